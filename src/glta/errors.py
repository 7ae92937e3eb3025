"""Errors that the CLI shows to a user as one clear message instead of a traceback."""


class GLTAError(Exception):
    """A problem the user can fix: the message says what was wrong and how to fix it."""


class DataFormatError(GLTAError):
    """A data file is missing, malformed or of an unexpected format."""

    def __init__(self, path, problem: str, fix: str = "", line: int | None = None):
        where = f"{path}" + (f", line {line}" if line is not None else "")
        message = f"{where}: {problem}"
        if fix:
            message += f"\n  fix: {fix}"
        super().__init__(message)
        self.path = path
        self.line = line


class ConfigError(GLTAError):
    """A configuration key or value is wrong."""
