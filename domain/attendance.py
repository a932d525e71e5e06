"""Attendance: after a game, its host records who came (no-shows become visible per player)."""

from domain.commands import RecordAttendance
from domain.errors import InvalidCommand, InvalidStatusChange
from domain.events import AttendanceRecorded, GameEvent
from domain.game import Context, GameState, require_manager, stamp


def record_attendance(state: GameState, command: RecordAttendance, ctx: Context) -> list[GameEvent]:
    """Present: the seated players not named as no-shows; only once the game has started."""
    require_manager(state, command, "record attendance")
    if state.status not in ("in_progress", "completed"):
        raise InvalidStatusChange(state.game_id, state.status, "checked for attendance")
    unknown = [user for user in command.no_shows if user not in state.joined]
    if unknown:
        seated = ", ".join(state.joined) or "nobody"
        raise InvalidCommand(
            "no_shows",
            f"{', '.join(unknown)} did not have a seat in this game (seated: {seated})",
        )
    no_shows = tuple(dict.fromkeys(command.no_shows))
    present = tuple(user for user in state.joined if user not in no_shows)
    return [AttendanceRecorded(**stamp(command, ctx.now), present=present, no_shows=no_shows)]
