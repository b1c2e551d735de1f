"""Errors the user sees. Each carries one line that says what is wrong and, where it can, how to fix it."""


class StudioError(Exception):
    """Base of every error that is shown to the user as a message rather than a traceback."""


class RecipeError(StudioError):
    """A recipe field is missing, of the wrong type or out of range."""

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"recipe field '{field}': {reason}")


class ImageError(StudioError):
    """A picture or mask could not be read or is unusable."""


class ModelError(StudioError):
    """A checkpoint is missing, unreadable, unsafe or of the wrong family."""


class JobCancelled(StudioError):
    """The user cancelled the job; not a failure."""

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)
