"""The README documents what exists: every setting, every command, nothing outside the repo."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from deploy.cli import build_parser
from deploy.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def table_after(header: str) -> list[str]:
    """The first cells of the markdown table whose header row starts with ``header``."""
    lines = README[README.index(header) :].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1].strip())
    return rows


def read_outside_settings() -> set[str]:
    """MUSTER_* variables the code reads from the environment itself (not through Settings)."""
    found: set[str] = set()
    for folder in ("deploy", "gateways", "projections", "domain", "api", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(r'environ\.get\("(MUSTER_\w+)"', path.read_text()))
    return found


def test_every_setting_is_in_the_table_and_every_row_is_a_setting() -> None:
    documented = {cell.strip("`") for cell in table_after("| setting | default | meaning |")}
    fields = {f"MUSTER_{name.upper()}" for name in Settings.model_fields}
    expected = fields | read_outside_settings()
    assert sorted(expected - documented) == [], "add these to the README's settings table"
    assert sorted(documented - expected) == [], "the README documents settings that do not exist"


def test_every_command_is_in_the_commands_table() -> None:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    documented = set()
    for cell in table_after("| command | what it does |"):
        match = re.match(r"`muster (\w+)", cell)
        assert match, cell
        documented.add(match[1])
    assert documented == set(action.choices)


def test_the_docs_link_nothing_outside_the_repository() -> None:
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)]+)\)", path.read_text()):
            if "://" in target or target.startswith("#"):
                continue
            resolved = (path.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT), f"{path.name} links outside: {target}"
            assert resolved.exists(), f"{path.name} links to a missing file: {target}"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    command = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/pytest"
    assert command in README
    assert command in (ROOT / ".ci" / "run").read_text()
