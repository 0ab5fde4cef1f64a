"""docs/trust.md stays honest: every test it cites exists, and every boundary cites one.

A reference is ``tests/<path>.py::<name>`` (or ``::<Class>::<name>``); a parametrized id
(``[...]``) is ignored. Renaming or deleting a cited test fails here until the page follows.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "trust.md"
REF = re.compile(r"(tests/[\w/]+\.py)((?:::\w+)+)(?:\[[^\]\s]*\])?")
HEADER = ["boundary", "what is not trusted", "what the pack does", "the tests that check it"]


@cache
def _definitions(path: str) -> frozenset[str]:
    """``name`` and ``Class::name`` of every function defined at module or class level."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names: set[str] = set()
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(f"{node.name}::{n.name}" for n in node.body if isinstance(n, functions))
    return frozenset(names)


def _cells(line: str) -> list[str]:
    # split on the table's pipes, not on escaped ones inside a cell (`a \| b`)
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _table(text: str) -> list[list[str]]:
    """The rows of the boundary table (the one whose header is HEADER)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and [c.lower() for c in _cells(line)] == HEADER:
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(_cells(row))
            return rows
    raise AssertionError(f"docs/trust.md has no table with the columns {HEADER}")


def test_every_cited_test_exists() -> None:
    refs = REF.findall(PAGE.read_text(encoding="utf-8"))
    assert len(refs) >= 20, "the page cites too few tests: did the reference form change?"
    missing = []
    for path, names in refs:
        name = names[2:]
        if not (ROOT / path).is_file():
            missing.append(f"{path}::{name} (no such file)")
        elif not name.split("::")[-1].startswith("test") or name not in _definitions(path):
            missing.append(f"{path}::{name}")
    assert not missing, "docs/trust.md cites tests that do not exist:\n" + "\n".join(missing)


def test_no_reference_is_cut_short() -> None:
    # `tests/x.py` alone or `::name` without a file would escape the check above
    text = PAGE.read_text(encoding="utf-8")
    for code in re.findall(r"`([^`]*)`", text):
        if "::" in code or code.startswith("tests/"):
            assert REF.fullmatch(code), f"not a tests/<path>.py::<name> reference: {code!r}"


def test_every_boundary_names_a_test() -> None:
    rows = _table(PAGE.read_text(encoding="utf-8"))
    assert len(rows) >= 9
    for row in rows:
        assert len(row) == len(HEADER), f"a row with {len(row)} cells: {row[0]!r}"
        assert REF.search(row[-1]), f"the boundary {row[0]!r} names no test"


def test_the_page_is_linked_from_the_readme_and_the_service_page() -> None:
    assert "(docs/trust.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(trust.md)" in (ROOT / "docs" / "service.md").read_text(encoding="utf-8")
