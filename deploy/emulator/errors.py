"""Discord's JSON error bodies and the codes the emulator returns."""

from __future__ import annotations

from typing import Any

# Discord's JSON error codes used by the emulator (name -> (HTTP status, code, message)).
UNAUTHORIZED = (401, 0, "401: Unauthorized")
UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
UNKNOWN_GUILD = (404, 10004, "Unknown Guild")
UNKNOWN_MEMBER = (404, 10007, "Unknown Member")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
UNKNOWN_ROLE = (404, 10011, "Unknown Role")
UNKNOWN_USER = (404, 10013, "Unknown User")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
UNKNOWN_APPLICATION = (404, 10002, "Unknown Application")
UNKNOWN_COMMAND = (404, 10063, "Unknown application command")
UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
NOT_FOUND = (404, 0, "404: Not Found")
METHOD_NOT_ALLOWED = (405, 0, "405: Method Not Allowed")
MISSING_ACCESS = (403, 50001, "Missing Access")
EMPTY_MESSAGE = (400, 50006, "Cannot send an empty message")
CANNOT_DM = (403, 50007, "Cannot send messages to this user")
NOT_AUTHOR = (403, 50005, "Cannot edit a message authored by another user")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")
INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
INVALID_FORM_BODY = (400, 50035, "Invalid Form Body")
BAD_REQUEST = (400, 50109, "The request body contains invalid JSON.")


class DiscordError(Exception):
    """An error the emulator answers with Discord's status, code and message."""

    def __init__(
        self,
        spec: tuple[int, int, str],
        *,
        errors: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        status, code, default_message = spec
        self.status = status
        self.code = code
        self.message = message or default_message
        self.errors = errors
        super().__init__(f"{status} {code} {self.message}")

    def body(self) -> dict[str, Any]:
        """The JSON body Discord sends for this error."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class FormErrors:
    """Collects Discord's nested 50035 ``errors`` tree (``{"a": {"0": {"_errors": [...]}}}``)."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: tuple[str | int, ...], value: str | None, limit: int) -> None:
        if value is not None and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def bad_length(self, path: tuple[str | int, ...], size: int, low: int, high: int) -> None:
        if not low <= size <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise DiscordError(INVALID_FORM_BODY, errors=self.tree)
