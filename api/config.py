"""What the web needs to know that is not an adapter: URLs, OAuth2 client, cookie secret."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

SESSION_COOKIE = "muster_session"
LOGIN_COOKIE = "muster_login"
SCOPES = "identify guilds"


@dataclass(frozen=True)
class WebConfig:
    """The web's own configuration (built from ``deploy.settings.Settings``)."""

    public_url: str
    discord_api_base: str
    client_id: str
    client_secret: str
    session_secret: str
    session_seconds: int = 7 * 86400
    read_your_writes_timeout: float = 2.0

    @property
    def redirect_uri(self) -> str:
        """The OAuth2 redirect to register with Discord."""
        return f"{self.public_url.rstrip('/')}/auth/callback"

    @property
    def authorize_url(self) -> str:
        root = re.sub(r"/api(/v\d+)?/?$", "", self.discord_api_base)
        return f"{root}/oauth2/authorize"  # Discord's consent page lives outside /api

    @property
    def token_url(self) -> str:
        return f"{self.discord_api_base}/oauth2/token"

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` when the web is served over TLS."""
        return self.public_url.startswith("https://")


def session_secret(data_dir: Path) -> str:
    """A cookie-signing secret kept in the data directory (created once, mode 600)."""
    path = data_dir / "web-session-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(value)
    return value
