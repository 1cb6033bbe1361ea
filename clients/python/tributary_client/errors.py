"""Errors of the Python worker client."""


class TributaryError(Exception):
    """A failure the worker does not retry: a refused token, a model that does not fit, giving up."""


class ModelMismatchError(TributaryError, ValueError):
    """The coordinator's model and the local one differ: a tensor is missing, extra, or of another shape or dtype."""


class IntegrityError(TributaryError):
    """Received bytes failed a check (offset, CRC32C, size, SHA-256); the pull is retried."""
