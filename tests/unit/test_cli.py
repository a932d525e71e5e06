"""The `muster` command line: every subcommand's options parse and show in its help, and every
error ends in one masked paragraph and a non-zero exit, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import cli
from deploy.redact import masked, redacted

GAME = "8f1c2a44-1111-4222-8333-444455556666"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No MUSTER_* from the outside; logging and signal handlers restored after `cli.main`."""
    import os

    for key in [k for k in os.environ if k.startswith("MUSTER_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("MUSTER_DATA_DIR", str(tmp_path / "data"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for sig, handler in signals.items():  # `muster up` installs its own
        signal.signal(sig, handler)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run `muster argv...` in this process: (exit code, stdout + stderr)."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse: usage errors and --help
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# Every option of every subcommand, with a value it accepts: parsing must give it back.
OPTIONS: dict[str, list[tuple[list[str], dict[str, object]]]] = {
    "up": [
        (
            ["--data-dir", "/tmp/x"],
            {"data_dir": Path("/tmp/x"), "command_workers": 0, "projectors": 1, "cluster": 1},
        ),
        (["--command-workers", "2"], {"command_workers": 2}),
        (["--projectors", "3"], {"projectors": 3}),
        (["--cluster", "3"], {"cluster": 3}),
    ],
    "doctor": [([], {})],
    "health": [
        (["bot"], {"process": "bot", "max_age": 30.0, "live": False, "partition": 0}),
        (["projector", "--partitions", "4", "--partition", "3"], {"partition": 3}),
        (["commands", "--workers", "2", "--worker", "1"], {"workers": 2, "worker": [1]}),
        (["scheduler", "--max-age", "12", "--live"], {"max_age": 12.0, "live": True}),
    ],
    "projector": [
        ([], {"action": "run", "partitions": 1, "partition": 0}),
        (["retry-parked"], {"action": "retry-parked"}),
        (["--partitions", "4", "--partition", "3"], {"partitions": 4, "partition": 3}),
    ],
    "replay": [
        (["--swap", "--keep"], {"swap": True, "keep": True, "partitions": None}),
        (["--partitions", "2"], {"partitions": 2}),
    ],
    "audit": [([GAME], {"game_id": GAME}), ([GAME, "--at", "5"], {"at": "5"})],
    "schemas": [(["--check", "--out", "/tmp/s"], {"check": True, "out": Path("/tmp/s")})],
    "worker": [
        (
            [
                "--durable",
                "x",
                "--stream",
                "S",
                "--prefix",
                "p",
                "--dead-prefix",
                "d",
                "--key-prefix",
                "k",
                "--ack-wait",
                "2.5",
                "--max-attempts",
                "3",
                "--concurrency",
                "4",
                "--global-per-second",
                "9",
                "--channel-budget",
                "5/5",
            ],
            {
                "durable": "x",
                "stream": "S",
                "prefix": "p",
                "dead_prefix": "d",
                "key_prefix": "k",
                "ack_wait": 2.5,
                "max_attempts": 3,
                "concurrency": 4,
                "global_per_second": 9,
                "channel_budget": (5, 5.0),
            },
        ),
    ],
    "sandbox": [
        (["--port", "0", "--host", "::1", "--empty"], {"port": 0, "host": "::1", "empty": True})
    ],
    "bot": [([], {})],
    # `events tail|export` options are tried in tests/unit/events/test_events_cli.py
    "events": [(["tail"], {"action": "tail"}), (["export", "-o", "x"], {"action": "export"})],
    "api": [([], {})],
    "scheduler": [([], {})],
    "commands": [
        ([], {"workers": None, "worker": None}),
        (["--workers", "4", "--worker", "1", "--worker", "3"], {"workers": 4, "worker": [1, 3]}),
    ],
}


def test_every_subcommand_is_covered_here() -> None:
    assert set(subcommands()) == set(OPTIONS)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_option_parses_and_shows_in_help(name: str) -> None:
    sub = subcommands()[name]
    help_text = sub.format_help()
    for argv, expected in OPTIONS[name]:
        args = cli.build_parser().parse_args([name, *argv])
        for key, value in expected.items():
            assert getattr(args, key) == value, (name, key)
        for flag in (a for a in argv if a.startswith("--")):
            assert flag in help_text, f"{flag} missing from `muster {name} --help`"
    options = {o for a in sub._actions for o in a.option_strings if o.startswith("--")}
    tried = {a for argv, _ in OPTIONS[name] for a in argv if a.startswith("--")}
    assert options - {"--help", "--debug"} == tried, "an option of this command is not tried"


def test_debug_is_accepted_before_and_after_the_subcommand() -> None:
    assert cli.build_parser().parse_args(["--debug", "doctor"]).debug is True
    assert cli.build_parser().parse_args(["doctor", "--debug"]).debug is True
    assert cli.build_parser().parse_args(["doctor"]).debug is False


def test_bad_arguments_are_a_usage_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "sandbox", "--port", "many")
    assert code == 2
    assert "invalid int value: 'many'" in out
    assert "Traceback" not in out
    code, out = run(capsys, "worker", "--channel-budget", "lots")
    assert code == 2
    assert "is not COUNT/SECONDS" in out


def test_a_bad_game_id_is_reported_before_any_connection(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(capsys, "audit", "not-a-game")
    assert (code, out.strip()) == (
        1,
        "muster audit: game_id: 'not-a-game' is not a game id (a UUID)",
    )
    monkeypatch.setenv("MUSTER_NATS_URL", "nats://muster:pw@127.0.0.1:9")
    code, out = run(capsys, "audit", "game.nope")
    assert code == 1
    assert "is not a game id" in out
    assert "NATS" not in out


def test_audit_needs_no_database_and_accepts_the_ids_it_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "audit", f"game.{GAME}")
    assert code == 1
    assert "MUSTER_NATS_URL is not set" in out
    assert "DATABASE" not in out


def test_unreachable_nats_gives_up_after_the_timeout_with_one_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("MUSTER_NATS_URL", f"nats://muster:hunter2@127.0.0.1:{port}")
    monkeypatch.setenv("MUSTER_NATS_TIMEOUT", "1")
    code, out = run(capsys, "audit", GAME)
    assert code == 1
    assert out.count("\n") == 1, out
    assert out.startswith(f"muster audit: cannot reach NATS at nats://muster:***@127.0.0.1:{port}")
    assert "MUSTER_NATS_TIMEOUT" in out
    assert "hunter2" not in out


def test_an_os_error_is_one_line_and_debug_shows_the_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "up", "--data-dir", "/proc/muster/x")
    assert code == 1
    assert "Traceback" not in out
    assert out.splitlines()[-1].startswith("muster up: /proc/muster: No such file or directory")
    code, out = run(capsys, "--debug", "up", "--data-dir", "/proc/muster/x")
    assert code == 1
    assert "Traceback (most recent call last)" in out


def test_an_unexpected_error_names_its_type_and_masks_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(args: argparse.Namespace, settings: object) -> int:
        raise ValueError("redis://default:s3cret@127.0.0.1:1/0 said no to token-xyz")

    monkeypatch.setenv("MUSTER_DISCORD_TOKEN", "token-xyz")
    monkeypatch.setattr(cli, "run_command", boom)
    code, out = run(capsys, "doctor")
    assert code == 1
    assert out.strip() == (
        "muster doctor: ValueError: redis://default:***@127.0.0.1:1/0 said no to *** "
        "(run with --debug for the traceback)"
    )
    code, out = run(capsys, "--debug", "doctor")
    assert "Traceback" in out
    assert "s3cret" not in out
    assert "token-xyz" not in out


def test_an_invalid_setting_is_a_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSTER_NATS_TIMEOUT", "soon")
    code, out = run(capsys, "doctor")
    assert code == 1
    assert out.startswith("muster doctor: invalid setting:")
    assert "nats_timeout" in out
    assert "Traceback" not in out


def test_a_busy_sandbox_port_is_named_with_its_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("MUSTER_SANDBOX_PORT", str(port))
        code, out = run(capsys, "sandbox")
        assert code == 1
        assert f"cannot listen on 127.0.0.1:{port}" in out
        assert "MUSTER_SANDBOX_PORT" in out
        code, out = run(capsys, "sandbox", "--port", str(port))
        assert code == 1
        assert f"port {port}" in out


def test_muster_up_says_its_sandbox_port_is_busy_before_starting_anything(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("MUSTER_SANDBOX_PORT", str(port))
        code, out = run(capsys, "up", "--data-dir", str(tmp_path / "up"))
    assert code == 1
    assert out.strip() == (
        f"muster up: cannot listen on 127.0.0.1:{port} for the sandbox page (Address already in "
        f"use): stop what uses port {port}, or choose another with MUSTER_SANDBOX_PORT (or "
        "`muster sandbox --port`); 0 picks a free port"
    )
    assert not (tmp_path / "up").exists()


async def test_muster_up_keeps_its_sandbox_port_and_names_it_when_busy() -> None:
    from deploy.emulator.sandbox import PortBusy
    from deploy.settings import Settings
    from deploy.up import running_emulator

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortBusy, match=rf"127\.0\.0\.1:{port}.*MUSTER_SANDBOX_PORT"):
            async with running_emulator(Settings(sandbox_port=port)):
                pass


def test_worker_options_reach_the_worker(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "worker", "--durable", "x")
    assert code == 1
    assert "MUSTER_DISCORD_TOKEN is not set" in out  # parsed; stopped at the first real check


def test_masking() -> None:
    assert masked("postgresql://postgres:pw@127.0.0.1:5/muster") == (
        "postgresql://postgres:***@127.0.0.1:5/muster"
    )
    assert masked("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert masked("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
    assert masked("postgresql://postgres@127.0.0.1:5/db") == "postgresql://postgres@127.0.0.1:5/db"
    text = "at nats://a:b@h:1, nats://c:d@h:2 with password=xyz and tok"
    assert redacted(text, ["tok"]) == (
        "at nats://a:***@h:1, nats://c:***@h:2 with password=*** and ***"
    )


def test_the_bot_token_is_in_no_repr() -> None:
    from deploy.bootstrap import discord_config
    from deploy.settings import Settings

    settings = Settings(discord_token="tok.en-secret")
    assert "tok.en-secret" not in repr(settings)
    assert "tok.en-secret" not in repr(discord_config(settings))
    assert discord_config(settings).token == "tok.en-secret"
