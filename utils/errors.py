"""The base of every error a user can cause and fix (bad configuration, data, checkpoints, annotation files).

Commands print these as one line (utils/cli.py); anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input or environment; the message says what, where and what to do."""

    exit_code = 1


class CheckpointError(UserError, ValueError):
    """A checkpoint file is missing, unreadable, or does not fit the model."""
