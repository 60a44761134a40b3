"""Problems found in workflow files, and the error that carries them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hub.core import ConfigError

__all__ = ["Loc", "Problem", "WorkflowError"]

#: A path into a workflow document, e.g. ``("steps", 0, "with", "name")``.
Loc = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a workflow file, at a 1-based line and column.

    A line of 0 means the position is unknown (e.g. a workflow built in code).
    """

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class WorkflowError(ConfigError):
    """One or more workflow files are invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[WorkflowError], tuple[list[Problem]]]:
        return (type(self), (self.problems,))
