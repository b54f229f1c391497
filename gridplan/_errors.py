"""The gridplan error hierarchy.

Every error gridplan raises on purpose derives from :class:`GridplanError`, so a caller can
catch them all at once; the CLI turns them into exit code 1 with the message printed.
Messages name the layer, the offending ids and what to fix.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "GridplanError",
    "InfeasibleError",
    "OutputExistsError",
]


class GridplanError(Exception):
    """Root of every error gridplan raises deliberately."""


class DataError(GridplanError, ValueError):
    """The dataset is unusable as given: a missing layer or column, bad ids, bad geometry...

    ``problems`` holds every problem found (one line each), so a caller can list them.
    """

    def __init__(self, msg: str, problems: list[str] | None = None) -> None:
        super().__init__(msg)
        self.problems: list[str] = list(problems) if problems else [msg]


class ConfigError(GridplanError, ValueError):
    """A ``plan.toml`` key or a parameter value is unknown or out of range."""


class InfeasibleError(GridplanError):
    """A planning problem has no solution under the constraints (explained in domain words)."""


class OutputExistsError(GridplanError, FileExistsError):
    """The output folder exists and ``overwrite`` was not asked for."""
