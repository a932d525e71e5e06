"""Discord's checks on message bodies (content, embeds, components), as 50035 errors."""

from __future__ import annotations

from typing import Any

from deploy.emulator.errors import FormErrors
from deploy.emulator.model import IS_COMPONENTS_V2

ACTION_ROW, BUTTON, TEXT_INPUT, LINK_STYLE, PREMIUM_STYLE = 1, 2, 4, 5, 6
SELECTS = frozenset({3, 5, 6, 7, 8})
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000


def validate_message(payload: dict[str, Any]) -> None:
    """Raise DiscordError 50035 with Discord's nested ``errors`` if the body breaks a limit."""
    errors = FormErrors()
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        errors.add(("content",), "BASE_TYPE_STRING", "Must be a string.")
    else:
        errors.max_length(("content",), content, MAX_CONTENT)
    embeds = payload.get("embeds")
    if embeds:
        _embeds(errors, embeds)
    components = payload.get("components")
    if components:
        v2 = bool((payload.get("flags") or 0) & IS_COMPONENTS_V2)
        _components(errors, components, v2=v2)
    errors.raise_if_any()


def _embeds(errors: FormErrors, embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > MAX_EMBEDS:
        errors.add(("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        path = ("embeds", i)
        for key, limit in (("title", 256), ("description", 4096)):
            errors.max_length((*path, key), embed.get(key), limit)
            total += len(embed.get(key) or "")
        footer = embed.get("footer") or {}
        author = embed.get("author") or {}
        errors.max_length((*path, "footer", "text"), footer.get("text"), 2048)
        errors.max_length((*path, "author", "name"), author.get("name"), 256)
        total += len(footer.get("text") or "") + len(author.get("name") or "")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add((*path, "fields"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = f.get(key)
                if not value:
                    errors.add(
                        (*path, "fields", j, key), "BASE_TYPE_REQUIRED", "This field is required"
                    )
                errors.max_length((*path, "fields", j, key), value, limit)
                total += len(value or "")
        if total > MAX_EMBED_TOTAL:
            errors.add(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _components(errors: FormErrors, rows: list[dict[str, Any]], *, v2: bool) -> None:
    seen: set[str] = set()
    if not v2:
        if len(rows) > 5:
            errors.add(("components",), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
        for i, row in enumerate(rows):
            if row.get("type") != ACTION_ROW:
                errors.add(
                    ("components", i, "type"),
                    "UNION_TYPE_CHOICES",
                    'Value of field "type" must be one of (1,).',
                )
                continue
            _row(errors, ("components", i), row, seen)
        return
    total = 0
    stack: list[tuple[tuple[str | int, ...], dict[str, Any]]] = [
        (("components", i), c) for i, c in enumerate(rows)
    ]
    while stack:
        path, comp = stack.pop()
        total += 1
        if comp.get("type") == ACTION_ROW:
            _row(errors, path, comp, seen)
            total += len(comp.get("components") or [])
            continue
        for key in ("components", "accessory", "items"):
            child = comp.get(key)
            if isinstance(child, list):
                stack.extend(
                    ((*path, key, j), c) for j, c in enumerate(child) if isinstance(c, dict)
                )
            elif isinstance(child, dict) and key == "accessory":
                stack.append(((*path, key), child))
    if total > 40:
        errors.add(("components",), "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")


def _row(
    errors: FormErrors, path: tuple[str | int, ...], row: dict[str, Any], seen: set[str]
) -> None:
    children = row.get("components") or []
    errors.bad_length((*path, "components"), len(children), 1, 5)
    if any(c.get("type") in SELECTS for c in children) and len(children) > 1:
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    for j, comp in enumerate(children):
        cpath = (*path, "components", j)
        kind = comp.get("type")
        custom_id = comp.get("custom_id")
        if kind == BUTTON:
            if not _button(errors, cpath, comp):
                continue  # link and premium buttons carry no custom_id
        elif kind in SELECTS:
            errors.max_length((*cpath, "placeholder"), comp.get("placeholder"), 150)
            if kind == 3:
                errors.bad_length((*cpath, "options"), len(comp.get("options") or []), 1, 25)
        elif kind != TEXT_INPUT:
            errors.add(
                (*cpath, "type"), "UNION_TYPE_CHOICES", "The specified component type is invalid"
            )
            continue
        if custom_id is not None:
            errors.max_length((*cpath, "custom_id"), custom_id, 100)
            if custom_id in seen:
                errors.add(
                    (*cpath, "custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            seen.add(custom_id)


def _button(errors: FormErrors, path: tuple[str | int, ...], comp: dict[str, Any]) -> bool:
    """Check one button; True if it is an interactive one (with a custom_id)."""
    style = comp.get("style")
    custom_id = comp.get("custom_id")
    errors.max_length((*path, "label"), comp.get("label"), 80)
    if style == LINK_STYLE:
        if not comp.get("url"):
            errors.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
        if custom_id is not None:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_LINK_CUSTOM_ID",
                "A link button cannot have a custom id",
            )
        return False
    if style == PREMIUM_STYLE:
        return False
    if not custom_id:
        errors.add(
            (*path, "custom_id"), "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required"
        )
    return True
