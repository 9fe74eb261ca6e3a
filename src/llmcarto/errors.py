"""Exception hierarchy: every message names the file, line and field, and what to do next."""


class LlmcartoError(Exception):
    """Base class for errors llmcarto reports to the user (the CLI prints them without a trace)."""


class FrameworkError(LlmcartoError):
    """The study's model (framework data files) is inconsistent."""


class CaseFileError(LlmcartoError):
    """A case registry file is malformed: the message names file, line and field."""


class InputError(LlmcartoError):
    """An input file cannot be read at all (unknown kind, missing, unreadable)."""


class StoreError(LlmcartoError):
    """The store is missing, locked or from a newer schema."""
