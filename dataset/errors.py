"""The one error type the loader raises for bad data, so callers can skip or report a sample."""


class DataError(ValueError):
    """A video's frames or label cannot be used; the message names the video and the file."""
