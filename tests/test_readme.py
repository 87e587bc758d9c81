"""The README's list of accepted headers and status words is the one the importer uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpm.io.values import _STATUS_WORDS
from cpm.services.fields import CUSTOMER_FIELDS, ORDER_FIELDS, FieldSpec

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("spec", CUSTOMER_FIELDS + ORDER_FIELDS, ids=lambda s: s.name)
def test_readme_lists_every_header_alias(spec: FieldSpec) -> None:
    line = next(line for line in README.splitlines() if line.startswith(f"| `{spec.name}` |"))
    for alias in spec.aliases:
        assert alias in line, f"{alias!r} missing from the README row of {spec.name}"


def test_readme_lists_every_status_word() -> None:
    for status, words in _STATUS_WORDS.items():
        line = next(line for line in README.splitlines() if line.startswith(f"- `{status}`:"))
        assert all(word in line for word in words)
