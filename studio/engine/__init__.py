"""The engine: torch + diffusers. Takes a recipe, a progress callback and a cancel token; returns pictures.

Studio never downloads: the hub is switched off before diffusers or transformers are imported.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DIFFUSERS_NO_ADVISORY_WARNINGS", "1")
