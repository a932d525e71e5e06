"""`muster audit GAME_ID --at SEQ|TIME`: the history up to then and the game as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deploy.cli import main
from domain.app import MusterApp
from domain.commands import CreateGame, JoinGame, LeaveGame

pytestmark = pytest.mark.integration


def test_audit_at_a_sequence_and_a_time(
    event_log_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for key, value in event_log_env.items():
        monkeypatch.setenv(key, value)
    app = MusterApp(env=event_log_env)
    game = app.handle(CreateGame(
        command_id="c", user_id="100", permissions=0x20, guild_id="1", channel_id="2",
        title="Catan", scheduled_at=datetime.now(UTC) + timedelta(days=1), max_players=1,
    )).game_id  # fmt: skip
    assert game
    app.handle(JoinGame(command_id="j1", user_id="201", game_id=game))
    app.handle(JoinGame(command_id="j2", user_id="202", game_id=game))  # waitlisted
    seq_before_leave = app.recorder.max_notification_id()  # type: ignore[attr-defined]
    app.handle(LeaveGame(command_id="l1", user_id="201", game_id=game))  # 202 promoted
    app.close()

    assert main(["audit", game, "--at", str(seq_before_leave)]) == 0
    out = capsys.readouterr().out
    assert "history of game." in out
    assert "(3 events)" in out
    assert "player_left" not in out.split("as it was")[0]
    state = out.split("as it was")[1]
    assert "2 later event(s) not shown" in state
    assert "joined:       201" in state
    assert "waitlist:     202" in state

    assert main(["audit", game]) == 0
    assert "(5 events)" in capsys.readouterr().out

    assert main(["audit", game, "--at", "2001-01-01"]) == 1
    assert "did not exist yet" in capsys.readouterr().out
    assert main(["audit", game, "--at", "2999-01-01T00:00:00Z"]) == 0
    assert "joined:       202" in capsys.readouterr().out

    assert main(["audit", game, "--at", "not-a-time"]) == 1
    err = capsys.readouterr().err
    assert "neither a stream sequence" in err
    assert "Traceback" not in err
