"""Testing helpers shipped with Studio: the exact-model conformance check for sampler and guidance plugins
(`studio.testing.conformance`) and the pytest plugin that offers it to plugin authors as fixtures."""
