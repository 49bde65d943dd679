"""The one error type the loader raises for bad data, so callers can skip or report a sample."""
from utils.errors import UserError


class DataError(UserError, ValueError):
    """A video's frames or label cannot be used; the message names the video and the file."""
