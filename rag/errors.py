"""User-facing error types: each carries a one-line message fit to show a person as is."""


class RagError(Exception):
    """Base class for errors whose message is shown to the user verbatim (no traceback)."""

    status_code: int = 400


class InvalidInput(RagError):
    """The request itself is wrong (empty or over-long question, bad parameter)."""

    status_code = 422


class UnsupportedFile(RagError):
    """A file type the loaders cannot read."""

    status_code = 415


class UnreadableFile(RagError):
    """A file of a supported type whose content cannot be read (binary, corrupt, empty)."""

    status_code = 422


class DocumentNotFound(RagError):
    """A document id that the index does not hold."""

    status_code = 404


class IndexUnavailable(RagError):
    """The index is missing, corrupt, or was built with another embedding model."""

    status_code = 503


class ModelUnavailable(RagError):
    """The embedding model (or a generator model) cannot be loaded from the configured path."""

    status_code = 503
