"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class TextlabError(Exception):
    """A problem with the user's input, files or settings (not a bug).

    The CLI prints ``textlab: error: <message>`` and exits with ``exit_code``.
    """

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(TextlabError):
    """A bad option value or combination of options."""

    exit_code = 2


class DataError(TextlabError):
    """A corpus, dataset or model file that cannot be read or is malformed."""


class DownloadError(TextlabError):
    """A download that failed or produced a file that does not check out."""


class TrainingInterrupted(TextlabError):
    """Training stopped by SIGINT/SIGTERM after saving a resumable checkpoint."""

    def __init__(self, message: str, signum: int):
        super().__init__(message, exit_code=128 + signum)
        self.signum = signum
