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


class MissingTextsError(GLTAError):
    """Users without a cached LLM-written text of a kind the prompts read. ``command`` writes them; the message
    (for training) adds how to train without them, while a check of the cache can name ``command`` alone."""

    def __init__(self, missing: int, n_users: int, kind: str, identity: str, command: str):
        self.missing, self.n_users, self.kind, self.identity, self.command = missing, n_users, kind, identity, command
        super().__init__(
            f"{missing} of {n_users} users have no cached {kind} text for {identity}: run `{command}` (resumable; "
            f"it writes these very texts), or train without it: model.use_profile=false model.use_prediction=false "
            f"(or model.missing_texts=empty to leave missing fields empty)")
