"""The public plugin API (samplers, guidance types). Torch-free at import: manifests are read without it."""

API_VERSION = 1
