"""Test-wide settings: no display, no network, and user folders inside the test's temporary space."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["STUDIO_DEVICE"] = "cpu"
os.environ["STUDIO_DTYPE"] = "float32"
_HOME = tempfile.mkdtemp(prefix="studio-tests-")
os.environ["STUDIO_CACHE_DIR"] = os.path.join(_HOME, "cache")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.environ["XDG_CACHE_HOME"] = os.path.join(_HOME, "cache")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")
