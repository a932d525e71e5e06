"""Muster's own forms still open in this client: modals and ephemeral views it has shown.

discord.py dispatches a modal submit or a component click to the form object that showed it,
and drops it silently when there is none (the form timed out, or it was shown by the client
before a restart). :class:`LiveForms` lets the client tell the two apart, so that only an
interaction nothing will answer is told that its form is no longer active; a form whose
handler is merely slow (a busy machine) is left to its handler.
"""

from __future__ import annotations

import weakref

import discord

Form = discord.ui.View | discord.ui.Modal


class LiveForms:
    """The forms this client has shown and that can still be answered."""

    def __init__(self) -> None:
        self._forms: weakref.WeakSet[Form] = weakref.WeakSet()

    def add(self, form: Form) -> None:
        """Remember ``form`` until it stops (answered, timed out) or is garbage."""
        self._forms.add(form)

    def handles(self, custom_id: str) -> bool:
        """Whether a live form answers an interaction with this ``custom_id`` (a modal's own
        id, or the id of one of a view's components)."""
        for form in list(self._forms):
            if form.is_finished():
                continue
            if isinstance(form, discord.ui.Modal) and form.custom_id == custom_id:
                return True
            if any(getattr(item, "custom_id", None) == custom_id for item in form.children):
                return True
        return False
