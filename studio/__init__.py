"""Studio: a desktop image editor for diffusion models."""

__version__ = "0.1.0"
