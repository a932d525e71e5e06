"""Interactions a person starts: button clicks, select choices, slash commands, modal submits."""

from __future__ import annotations

import secrets
from typing import Any

from deploy.emulator import payloads
from deploy.emulator.model import Channel, Command, Interaction, Message
from deploy.emulator.permissions import channel_permissions
from deploy.emulator.world import Event, World

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
ATTACHMENT_LIMIT = 10 * 1024 * 1024
_OPTION_CASTS = {3: str, 4: int, 5: bool, 10: float}


class ScriptError(Exception):
    """A scripted person tried something the Discord client would not let them do."""


def _find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    stack = list(components)
    while stack:
        comp = stack.pop()
        if comp.get("custom_id") == custom_id:
            return comp
        for key in ("components", "accessory", "component"):
            child = comp.get(key)
            if isinstance(child, list):
                stack.extend(child)
            elif isinstance(child, dict):
                stack.append(child)
    return None


class InteractionFactory:
    """Builds INTERACTION_CREATE payloads like Discord's and dispatches them to the bot."""

    def __init__(self, world: World, *, retention: float = 960.0) -> None:
        self.world = world
        self.retention = retention  # seconds an interaction is kept (token lifetime + slack)
        self.by_token: dict[str, Interaction] = {}

    def click(
        self, user_id: int, message: Message, custom_id: str, values: list[str] | None = None
    ) -> Interaction:
        """A member presses a button (or picks ``values`` in a select) on a message."""
        if message.visible_to is not None and message.visible_to != user_id:
            raise ScriptError("that ephemeral message is not visible to this user")
        comp = _find_component(message.components, custom_id)
        if comp is None:
            raise ScriptError(f"message {message.id} has no component with custom_id {custom_id!r}")
        if comp.get("disabled"):
            raise ScriptError(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": comp["type"]}
        if comp["type"] != 2:
            data["values"] = list(values or [])
        elif values:
            raise ScriptError("buttons take no values")
        channel = self.world.channel(message.channel_id)
        return self._create(MESSAGE_COMPONENT, user_id, channel, data, message)

    def command(
        self,
        user_id: int,
        channel: Channel,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        focused: str | None = None,
    ) -> Interaction:
        """A member runs ``/name`` (``"group sub"`` for subcommands) with option values.

        With ``focused``, the member is still typing that option: Discord sends an
        AUTOCOMPLETE interaction (type 4) with the partial value marked ``focused`` and
        without checking required options; the bot answers with choices (type 8).
        """
        words = name.split()
        cmd = self._lookup(words[0], channel.guild_id)
        definition: dict[str, Any] = cmd.payload
        nested: list[dict[str, Any]] = []
        top = nested
        for word in words[1:]:
            sub = next((o for o in definition.get("options") or [] if o["name"] == word), None)
            if sub is None or sub.get("type") not in (1, 2):
                raise ScriptError(f"/{words[0]} has no subcommand {word!r}")
            entry: dict[str, Any] = {"type": sub["type"], "name": word, "options": []}
            nested.append(entry)
            nested, definition = entry["options"], sub
        resolved: dict[str, dict[str, Any]] = {}
        given = dict(options or {})
        if focused is not None:
            spec = next((o for o in definition.get("options") or [] if o["name"] == focused), None)
            if spec is None or not spec.get("autocomplete"):
                raise ScriptError(f"option {focused!r} of /{name} has no autocomplete")
            given.setdefault(focused, "")
        nested.extend(
            self._options(definition, given, channel, resolved, partial=focused is not None)
        )
        if focused is not None:
            for option in nested:
                if option["name"] == focused:
                    option["focused"] = True
                    option["value"] = str(given[focused])
        data: dict[str, Any] = {"id": str(cmd.id), "name": words[0], "type": 1, "options": top}
        if cmd.guild_id is not None:
            data["guild_id"] = str(cmd.guild_id)
        if resolved:
            data["resolved"] = resolved
        kind = AUTOCOMPLETE if focused is not None else APPLICATION_COMMAND
        return self._create(kind, user_id, channel, data)

    def submit_modal(
        self, user_id: int, source: Interaction, values: dict[str, Any]
    ) -> Interaction:
        """A member fills in and submits the modal the bot opened in answer to ``source``."""
        modal = source.modal
        if modal is None:
            raise ScriptError("the bot did not answer that interaction with a modal")
        if source.user_id != user_id:
            raise ScriptError("only the member who opened the modal can submit it")
        unknown = set(values) - _custom_ids(modal["components"])
        if unknown:
            raise ScriptError(f"the modal has no inputs {sorted(unknown)}")
        components = [_submitted(c, values) for c in modal["components"]]
        data = {"custom_id": modal["custom_id"], "components": components}
        channel = self.world.channel(source.channel_id)
        message = self.world.messages.get(source.message_id or 0)
        return self._create(MODAL_SUBMIT, user_id, channel, data, message)

    # -- internals ------------------------------------------------------------------------
    def _lookup(self, name: str, guild_id: int | None) -> Command:
        candidates = [c for c in self.world.commands.values() if c.payload["name"] == name]
        for cmd in sorted(candidates, key=lambda c: c.guild_id is None):
            if cmd.guild_id in (None, guild_id):
                return cmd
        raise ScriptError(f"no application command /{name} is registered for this guild")

    def _options(
        self,
        definition: dict[str, Any],
        given: dict[str, Any],
        channel: Channel,
        resolved: dict[str, dict[str, Any]],
        *,
        partial: bool = False,
    ) -> list[dict[str, Any]]:
        specs = {o["name"]: o for o in definition.get("options") or []}
        missing = [n for n, o in specs.items() if o.get("required") and n not in given]
        if missing and not partial:
            raise ScriptError(f"missing required options {missing}")
        out = []
        for key, value in given.items():
            spec = specs.get(key)
            if spec is None:
                raise ScriptError(f"unknown option {key!r}")
            kind = spec["type"]
            cast = _OPTION_CASTS.get(kind)
            out.append({"name": key, "type": kind, "value": cast(value) if cast else str(value)})
            if cast is None:
                self._resolve(kind, int(value), channel, resolved)
        return out

    def _resolve(
        self, kind: int, oid: int, channel: Channel, resolved: dict[str, dict[str, Any]]
    ) -> None:
        world = self.world
        guild = world.guilds.get(channel.guild_id or 0)
        if kind in (6, 9) and oid in world.users:
            resolved.setdefault("users", {})[str(oid)] = payloads.user(world.users[oid])
            if guild is not None and oid in guild.members:
                member = payloads.member(world, guild.members[oid], with_user=False)
                member["permissions"] = str(channel_permissions(guild, channel, oid))
                resolved.setdefault("members", {})[str(oid)] = member
        elif kind in (8, 9) and guild is not None and oid in guild.roles:
            resolved.setdefault("roles", {})[str(oid)] = payloads.role(guild.roles[oid])
        elif kind == 7 and oid in world.channels:
            target = world.channels[oid]
            data = payloads.channel(world, target)
            data["permissions"] = str(channel_permissions(guild, target, 0) if guild else 0)
            resolved.setdefault("channels", {})[str(oid)] = data
        else:
            raise ScriptError(f"option value {oid} does not resolve to a user, role or channel")

    def _create(
        self,
        kind: int,
        user_id: int,
        channel: Channel,
        data: dict[str, Any],
        message: Message | None = None,
    ) -> Interaction:
        world = self.world
        user = world.user(user_id)
        guild = world.guilds.get(channel.guild_id or 0)
        if guild is not None and user_id not in guild.members:
            raise ScriptError("only members of the guild can interact there")
        iid = world.ids.next()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)
        app = world.application
        channel_data = payloads.channel(world, channel)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(app.id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": user.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_LIMIT,
            "channel_id": str(channel.id),
            "channel": channel_data,
        }
        if guild is not None:
            perms = channel_permissions(guild, channel, user_id)
            member = payloads.member(world, guild.members[user_id])
            member["permissions"] = str(perms)
            channel_data["permissions"] = str(perms)
            payload.update(
                guild_id=str(guild.id),
                guild={
                    "id": str(guild.id),
                    "locale": guild.preferred_locale,
                    "features": guild.features,
                },
                guild_locale=guild.preferred_locale,
                member=member,
                app_permissions=str(channel_permissions(guild, channel, app.bot_user_id)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=payloads.user(user),
                app_permissions=str(0),
                authorizing_integration_owners={"0": str(user_id)},
                context=1,
            )
        if message is not None:
            payload["message"] = payloads.message(world, message)
        interaction = Interaction(
            iid,
            token,
            kind,
            user_id,
            channel.id,
            guild.id if guild else None,
            data,
            world.clock.time(),
            message_id=message.id if message else None,
            payload=payload,
        )
        self._prune()
        world.interactions[iid] = interaction
        self.by_token[token] = interaction
        world.publish(Event("INTERACTION_CREATE", payload, interaction.guild_id, channel.id))
        return interaction

    def _prune(self) -> None:
        """Forget interactions whose token expired long ago (oldest first, insertion order)."""
        cutoff = self.world.clock.time() - self.retention
        interactions = self.world.interactions
        while interactions:
            oldest = next(iter(interactions.values()))
            if oldest.created_at >= cutoff:
                return
            del interactions[oldest.id]
            self.by_token.pop(oldest.token, None)


def _custom_ids(components: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    stack = list(components)
    while stack:
        comp = stack.pop()
        if comp.get("custom_id"):
            found.add(comp["custom_id"])
        stack.extend(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            stack.append(comp["component"])
    return found


def _submitted(comp: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """What Discord sends back for one modal component once the person filled it in."""
    kind = comp.get("type")
    if kind == 1:
        return {
            "type": 1,
            "id": comp.get("id", 0),
            "components": [_submitted(c, values) for c in comp["components"]],
        }
    if kind == 18:
        return {
            "type": 18,
            "id": comp.get("id", 0),
            "component": _submitted(comp["component"], values),
        }
    out: dict[str, Any] = {"type": kind, "id": comp.get("id", 0)}
    custom_id = comp.get("custom_id")
    if custom_id is None:
        return out
    out["custom_id"] = custom_id
    given = values.get(custom_id)
    if kind == 4:
        value = str(given) if given is not None else comp.get("value") or ""
        if comp.get("required", True) and not value:
            raise ScriptError(f"modal input {custom_id!r} is required")
        out["value"] = value
    else:
        out["values"] = [str(v) for v in (given or [])]
    return out
