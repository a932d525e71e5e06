"""Muster's settings: environment variables prefixed ``MUSTER_``, all with working defaults.

No setting is needed to run locally: with no server URL configured, ``muster up`` starts
embedded NATS, PostgreSQL and Redis under :attr:`Settings.data_dir`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def default_data_dir() -> Path:
    """The per-user data directory (``$XDG_DATA_HOME/muster`` or ``~/.local/share/muster``)."""
    import os

    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "muster"


def log_env(settings: Settings, nats_url: str) -> dict[str, str]:
    """eventsourcing environment for an application or tool whose log is this deployment's."""
    return {
        "PERSISTENCE_MODULE": "gateways.jetstream",
        "MUSTER_NATS_URL": nats_url,
        "MUSTER_NATS_TIMEOUT": str(settings.nats_timeout),
        "MUSTER_EVENTS_STREAM": settings.events_stream,
        "MUSTER_EVENTS_SUBJECT_PREFIX": settings.events_subject_prefix,
        "MUSTER_EVENTS_REPLICAS": str(settings.events_replicas),
        "MUSTER_NATS_FAILOVER_WAIT": str(settings.nats_failover_wait),
    }


class Settings(BaseSettings):
    """All of Muster's configuration, read from ``MUSTER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="MUSTER_", extra="ignore")

    nats_url: str | None = Field(default=None, description="NATS server; unset = embedded")
    database_url: str | None = Field(default=None, description="PostgreSQL; unset = embedded")
    redis_url: str | None = Field(default=None, description="Redis; unset = embedded")
    data_dir: Path = Field(default_factory=default_data_dir)

    nats_timeout: float = Field(default=5.0, gt=0, description="seconds before a NATS call fails")
    nats_sync_interval: str = Field(
        default="2m",
        description="JetStream fsync interval for the embedded server ('always' for production)",
    )

    database_schema: str = Field(default="muster", description="schema of the read models")
    events_stream: str = Field(default="EVENTS", description="JetStream stream of the log")
    events_subject_prefix: str = Field(default="events", description="subject prefix of the log")
    events_replicas: int = Field(
        default=1, ge=1, le=5, description="copies of the log's stream (3 on a 3-node NATS cluster)"
    )
    nats_failover_wait: float = Field(
        default=20.0,
        gt=0,
        description="seconds a command waits for the log's new leader after a NATS server fails",
    )
    database_read_url: str | None = Field(
        default=None, description="PostgreSQL replica for queries; unset = DATABASE_URL"
    )
    command_threads: int = Field(
        default=8, gt=0, description="commands decided at once in one process (thread pool)"
    )
    commands: Literal["local", "nats"] = Field(
        default="local",
        description="how entry points reach the domain: in this process, or NATS request-reply "
        "to `muster commands` workers",
    )
    command_workers: int = Field(
        default=1, gt=0, description="partitions of the games over command workers (nats mode)"
    )
    command_timeout: float = Field(
        default=10.0, gt=0, description="seconds a command waits for its worker (nats mode)"
    )
    command_subject: str = Field(
        default="muster.commands", description="subject prefix of command requests (nats mode)"
    )
    name_ttl: int = Field(default=3600, gt=0, description="seconds a display name stays cached")

    discord_token: SecretStr | None = Field(default=None, description="bot token; unset = emulator")
    discord_api_base: str = Field(default="https://discord.com/api/v10")
    sandbox_port: int = Field(default=8765, description="emulator sandbox page (no bot token)")
    discord_outbound: Literal["direct", "in_process", "external"] = "in_process"
    discord_cache_ttls: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description='fresh and stale seconds per cache kind, e.g. {"member": [300, 86400]}',
    )
    discord_global_per_second: int = Field(default=50, gt=0, description="Discord's 50/s")
    discord_ops_stream: str = Field(default="DISCORD_OPS", description="external-mode work queue")
    discord_ack_wait: float = Field(default=30, gt=0)
    discord_max_attempts: int = Field(default=5, gt=0, description="before dead-lettering")
    discord_reply_timeout: float = Field(default=30, gt=0)

    bot_interactions_per_user: int = Field(
        default=5,
        gt=0,
        description="interactions one member may start per window (then asked to wait)",
    )
    bot_interaction_window: float = Field(
        default=10.0, gt=0, description="seconds of the per-member interaction window"
    )
    bot_sync_commands: bool = Field(
        default=True, description="register the slash commands with Discord when the bot starts"
    )
    bot_shutdown_grace: float = Field(
        default=10.0, ge=0, description="seconds a stopping bot waits for interactions in flight"
    )
    bot_health_interval: float = Field(
        default=5.0, gt=0, description="seconds between the bot's health reports"
    )
    bot_shards: int = Field(
        default=1,
        ge=0,
        description="gateway shards in all: 1 = no sharding, 0 = as many as Discord recommends",
    )
    bot_shard_ids: Annotated[list[int] | None, NoDecode] = Field(
        default=None,
        description="the shards this process runs, e.g. 0,1 (unset = all of them)",
    )

    web_host: str = Field(default="127.0.0.1", description="address the web and API listen on")
    web_port: int = Field(
        default=8770, ge=0, le=65535, description="port of the web and API (stable default)"
    )
    public_url: str | None = Field(
        default=None,
        description="the web's public URL (OAuth2 redirect: PUBLIC_URL/auth/callback); "
        "unset = http://WEB_HOST:WEB_PORT",
    )
    discord_client_id: str | None = Field(
        default=None, description="OAuth2 application id for web login; unset = emulator's"
    )
    discord_client_secret: SecretStr | None = Field(
        default=None, description="OAuth2 client secret for web login"
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="signs the web session cookie; unset = generated once in DATA_DIR",
    )
    session_days: int = Field(default=7, gt=0, description="days a web session lasts unused")

    scheduler_concurrency: int = Field(
        default=64,
        gt=0,
        description="due times (reminders, starts, ends) the scheduler handles at once",
    )
    scheduler_metrics_port: int | None = Field(
        default=None, description="port for `muster scheduler`'s Prometheus metrics; unset = off"
    )

    @field_validator("bot_shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: Any) -> Any:
        """``"0,2"``, ``"[0, 2]"``, ``"3"`` (a StatefulSet's pod index) or a list."""
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            text = value.strip().removeprefix("[").removesuffix("]")
            return [part.strip() for part in text.split(",") if part.strip()] or None
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        ids = self.bot_shard_ids
        if ids is None:
            return self
        if self.bot_shards == 0:
            raise ValueError(
                "MUSTER_BOT_SHARD_IDS needs MUSTER_BOT_SHARDS set to the number of shards in all"
            )
        wrong = [i for i in ids if not 0 <= i < self.bot_shards]
        if wrong or len(set(ids)) != len(ids):
            raise ValueError(
                f"MUSTER_BOT_SHARD_IDS {ids} must be distinct shard ids from 0 to "
                f"{self.bot_shards - 1} (MUSTER_BOT_SHARDS is {self.bot_shards})"
            )
        return self

    @model_validator(mode="after")
    def _commands_outside_the_log(self) -> Settings:
        """Command requests must not be captured by the log's stream (it would answer them)."""
        log, commands = self.events_subject_prefix + ".", self.command_subject + "."
        if commands.startswith(log) or log.startswith(commands):
            raise ValueError(
                f"MUSTER_COMMAND_SUBJECT ({self.command_subject}) must not overlap the log's "
                f"subjects ({self.events_subject_prefix}.>): the stream would capture commands"
            )
        return self
