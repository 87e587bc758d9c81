"""The errors a user can cause. The CLI prints them as one message and exits 1."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


class CpmError(Exception):
    """A failure the user can fix: what is wrong, and (optionally) how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class NotFound(CpmError):
    """A file, customer or record that was named does not exist."""


class Conflict(CpmError):
    """The request contradicts what is stored or what another part of the input says."""


class SchemaOutdated(CpmError):
    """The database is missing or its schema is older than this version of cpm."""


class DatabaseUnavailable(CpmError):
    """The database cannot be written: read-only, locked too long, or not a database."""


class ConfigError(CpmError):
    """cpm.toml is malformed or holds a value out of range."""


def shown_value(value: Any) -> Any:
    """A cell as the user sees it in Excel: 5 not 5.0, 2024-02-02 not datetime.date(2024, 2, 2)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class CellProblem:
    """One bad value in an input file, located the way the user sees it in Excel."""

    sheet: str | None  # None for CSV/TSV files
    row: int
    column: str
    value: Any
    expected: str

    def describe(self, file_name: str) -> str:
        shown = "(empty)" if self.value in (None, "") else repr(shown_value(self.value))
        place = f"{file_name}, sheet {self.sheet}" if self.sheet else file_name
        return f"{place}, row {self.row}, column {self.column}: {shown} — {self.expected}"


class InvalidInput(CpmError):
    """An input file has problems; every one of them is listed in `problems`."""

    def __init__(
        self,
        message: str,
        *,
        problems: list[CellProblem] | None = None,
        file_name: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.problems = problems or []
        self.file_name = file_name
