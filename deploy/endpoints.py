"""Where the servers are: configured URLs, or the embedded ones a running ``muster up`` uses.

``muster up`` writes its servers' URLs to ``<data dir>/endpoints.json`` while it runs, so tools
(``muster replay``, ``muster audit``, ``muster projector``) find embedded servers without any
setting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from deploy.settings import Settings

KEYS = ("nats", "postgres", "redis")
SETTING = {
    "nats": "MUSTER_NATS_URL",
    "postgres": "MUSTER_DATABASE_URL",
    "redis": "MUSTER_REDIS_URL",
}


class NoServers(RuntimeError):
    """No URL configured and no running ``muster up`` to borrow one from."""


def endpoints_file(data_dir: Path) -> Path:
    return data_dir / "endpoints.json"


def write_endpoints(data_dir: Path, urls: dict[str, str]) -> Path:
    path = endpoints_file(data_dir)
    path.touch(mode=0o600)  # the URLs carry the database password
    path.chmod(0o600)
    path.write_text(json.dumps({**urls, "pid": os.getpid()}, indent=2))
    return path


def running_urls(settings: Settings) -> dict[str, str]:
    """The servers of a ``muster up`` running with ``settings.data_dir`` (empty if none), with
    its process id under ``pid``."""
    path = endpoints_file(settings.data_dir)
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    pid = int(recorded.get("pid", 0))
    if not pid or not Path(f"/proc/{pid}").exists():
        return {}
    return {key: str(value) for key, value in recorded.items()}


def resolve_urls(settings: Settings, needs: tuple[str, ...] = KEYS) -> dict[str, str]:
    """Each needed server's URL: the configured one, else the running ``muster up``'s."""
    configured = {
        "nats": settings.nats_url, "postgres": settings.database_url, "redis": settings.redis_url
    }  # fmt: skip
    if all(configured[key] for key in needs):
        return {k: v for k, v in configured.items() if v and k in needs}
    running = running_urls(settings)
    urls = {}
    for key in needs:
        url = configured[key] or running.get(key)
        if not url:
            raise NoServers(
                f"{SETTING[key]} is not set and no `muster up` is running with data in "
                f"{settings.data_dir}; start `muster up` in another terminal, "
                f"or set {SETTING[key]}"
            )
        urls[key] = url
    return urls
