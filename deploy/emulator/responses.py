"""How the bot answers interactions: callbacks (types 1-9), follow-ups and @original edits."""

from __future__ import annotations

from typing import Any

from deploy.emulator import payloads
from deploy.emulator.errors import (
    ALREADY_ACKNOWLEDGED,
    INVALID_FORM_BODY,
    INVALID_WEBHOOK_TOKEN,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    DiscordError,
    FormErrors,
)
from deploy.emulator.interactions import APPLICATION_COMMAND, AUTOCOMPLETE, MESSAGE_COMPONENT, PING
from deploy.emulator.messages import Messages, normalize
from deploy.emulator.model import EPHEMERAL, LOADING, Interaction, Message
from deploy.emulator.validation import validate_message
from deploy.emulator.world import Event, World

PONG, REPLY, DEFERRED_REPLY, DEFERRED_UPDATE, UPDATE, AUTOCOMPLETE_RESULT, MODAL = (
    1,
    4,
    5,
    6,
    7,
    8,
    9,
)
_ALLOWED = {
    PING: {PONG},
    APPLICATION_COMMAND: {REPLY, DEFERRED_REPLY, MODAL},
    MESSAGE_COMPONENT: {REPLY, DEFERRED_REPLY, DEFERRED_UPDATE, UPDATE, MODAL},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    5: {REPLY, DEFERRED_REPLY, DEFERRED_UPDATE, UPDATE},
}


class Responses:
    """Applies the bot's answers to interactions, with Discord's deadlines and error codes."""

    def __init__(
        self,
        world: World,
        messages: Messages,
        by_token: dict[str, Interaction],
        *,
        deadline: float = 3.0,
        token_lifetime: float = 900.0,
    ) -> None:
        self.world = world
        self.messages = messages
        self.by_token = by_token
        self.deadline = deadline
        self.token_lifetime = token_lifetime

    # -- initial response -----------------------------------------------------------------
    def callback(self, interaction_id: int, token: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /interactions/{id}/{token}/callback; returns the ``with_response`` body."""
        it = self.world.interactions.get(interaction_id)
        if it is None or it.token != token:
            raise DiscordError(UNKNOWN_INTERACTION)
        if it.response_type is not None:
            it.failures.append(ALREADY_ACKNOWLEDGED[1])
            raise DiscordError(ALREADY_ACKNOWLEDGED)
        if self.world.clock.time() - it.created_at > self.deadline:
            it.failures.append(UNKNOWN_INTERACTION[1])
            raise DiscordError(UNKNOWN_INTERACTION)
        kind = body.get("type")
        if (
            not isinstance(kind, int)
            or kind not in _ALLOWED.get(it.type, set())
            or (kind in (DEFERRED_UPDATE, UPDATE) and it.message_id is None)
        ):
            problem = {"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": "Invalid type"}
            raise DiscordError(INVALID_FORM_BODY, errors={"type": {"_errors": [problem]}})
        data = body.get("data") or {}
        message = self._apply(it, kind, data)
        it.response_type, it.response_data = kind, data
        it.responded_at = self.world.clock.time()
        it.acknowledged.set()
        self._announce(it)
        result: dict[str, Any] = {"interaction": {"id": str(it.id), "type": it.type}}
        resource: dict[str, Any] = {"type": kind}
        if message is not None and kind in (REPLY, DEFERRED_REPLY, UPDATE):
            result["interaction"].update(
                response_message_id=str(message.id),
                response_message_loading=bool(message.flags & LOADING),
                response_message_ephemeral=bool(message.flags & EPHEMERAL),
            )
            if kind != DEFERRED_REPLY:  # Discord returns the message for types 4 and 7 only
                resource["message"] = payloads.message(self.world, message)
        result["resource"] = resource
        return result

    def _apply(self, it: Interaction, kind: int, data: dict[str, Any]) -> Message | None:
        if kind == REPLY:
            validate_message(data)
            msg = self._post(it, data, flags=(data.get("flags") or 0) & (EPHEMERAL | (1 << 15) | 4))
            it.original_message_id = msg.id
            return msg
        if kind == DEFERRED_REPLY:
            msg = self._post(it, {}, flags=LOADING | ((data.get("flags") or 0) & EPHEMERAL))
            it.original_message_id = msg.id
            return msg
        if kind in (DEFERRED_UPDATE, UPDATE):
            it.original_message_id = it.message_id
            source = self.world.messages.get(it.message_id or 0)
            if kind == UPDATE and source is not None:
                self.messages.apply_edit(source, data)
            return source
        if kind == AUTOCOMPLETE_RESULT:
            errors = FormErrors()
            choices = data.get("choices") or []
            errors.bad_length(("data", "choices"), len(choices), 0, 25)
            for n, choice in enumerate(choices):
                errors.max_length(("data", "choices", str(n), "name"), choice.get("name"), 100)
            errors.raise_if_any()
            return None
        if kind == MODAL:
            errors = FormErrors()
            errors.max_length(("data", "custom_id"), data.get("custom_id"), 100)
            errors.max_length(("data", "title"), data.get("title"), 45)
            errors.bad_length(("data", "components"), len(data.get("components") or []), 1, 5)
            errors.raise_if_any()
        return None

    def _post(self, it: Interaction, data: dict[str, Any], *, flags: int) -> Message:
        world = self.world
        user = world.users[it.user_id]
        metadata: dict[str, Any] = {
            "id": str(it.id),
            "type": it.type,
            "user": payloads.user(user),
            "authorizing_integration_owners": it.payload["authorizing_integration_owners"],
        }
        if it.type == MESSAGE_COMPONENT and it.message_id is not None:
            metadata["interacted_message_id"] = str(it.message_id)
        fields = normalize(data)
        return world.add_message(
            world.channels[it.channel_id],
            world.application.bot_user_id,
            flags=flags,
            type=20 if it.type == APPLICATION_COMMAND else 0,
            webhook_id=world.application.id,
            application_id=world.application.id,
            interaction_metadata=metadata,
            visible_to=it.user_id if flags & EPHEMERAL else None,
            **fields,
        )

    def _announce(self, it: Interaction) -> None:
        data = {"id": str(it.id), "type": it.response_type, "user_id": str(it.user_id)}
        self.world.publish(
            Event("INTERACTION_RESPONSE", data, it.guild_id, it.channel_id, internal=True)
        )

    # -- webhook (follow-ups, @original) --------------------------------------------------
    def webhook(self, application_id: int, token: str) -> Interaction:
        """The interaction behind a webhook token, if it is still valid (15 minutes)."""
        if application_id != self.world.application.id:
            raise DiscordError(UNKNOWN_WEBHOOK)
        it = self.by_token.get(token)
        if it is None or self.world.clock.time() - it.created_at > self.token_lifetime:
            if it is not None:
                it.failures.append(INVALID_WEBHOOK_TOKEN[1])
            raise DiscordError(INVALID_WEBHOOK_TOKEN)
        return it

    def message_of(self, it: Interaction, message_ref: str) -> Message:
        if message_ref == "@original":
            mid = it.original_message_id
        else:
            mid = int(message_ref) if message_ref.isdigit() else None
            if mid != it.original_message_id and mid not in it.followup_ids:
                mid = None
        msg = self.world.messages.get(mid or 0)
        if msg is None:
            raise DiscordError(UNKNOWN_MESSAGE)
        return msg

    def edit(self, it: Interaction, message_ref: str, data: dict[str, Any]) -> Message:
        msg = self.message_of(it, message_ref)
        validate_message(data)
        if msg.flags & LOADING:
            msg.flags &= ~LOADING
        return self.messages.apply_edit(msg, data)

    def followup(self, it: Interaction, data: dict[str, Any]) -> Message:
        """POST /webhooks/{app}/{token}: the first one after a type-5 deferral fills it in."""
        if it.response_type is None:
            raise DiscordError(UNKNOWN_WEBHOOK)
        validate_message(data)
        original = self.world.messages.get(it.original_message_id or 0)
        if it.response_type == DEFERRED_REPLY and original is not None and original.flags & LOADING:
            original.flags &= ~LOADING
            return self.messages.apply_edit(original, data)
        msg = self._post(it, data, flags=(data.get("flags") or 0) & (EPHEMERAL | (1 << 15) | 4))
        it.followup_ids.append(msg.id)
        return msg
