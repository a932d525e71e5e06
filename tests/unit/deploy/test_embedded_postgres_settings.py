"""The settings the embedded PostgreSQL runs with."""

from deploy.embedded_postgres import server_settings


def settings_of(argv: list[str]) -> dict[str, str]:
    values = [argv[i + 1] for i, flag in enumerate(argv) if flag == "-c"]
    return dict(value.split("=", 1) for value in values)


def test_a_rebuild_of_a_million_events_fits_between_two_checkpoints() -> None:
    # ~700 MB of WAL per 1,000,000 events rebuilt; a checkpoint is asked for after
    # max_wal_size / (1 + checkpoint_completion_target), ~540 MB with the default 1GB.
    assert settings_of(server_settings(durable=True))["max_wal_size"] == "4GB"


def test_only_throwaway_servers_trade_crash_safety_for_speed() -> None:
    assert "fsync" not in settings_of(server_settings(durable=True))
    assert settings_of(server_settings(durable=False))["fsync"] == "off"
