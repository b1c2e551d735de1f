"""The window (PySide6). The only layer that imports Qt; the engine is imported only inside the worker thread."""
