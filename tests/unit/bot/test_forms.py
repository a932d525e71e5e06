"""LiveForms: which interactions a still-open form of this client answers."""

from __future__ import annotations

import gc

import discord
import pytest

from bot.client import STALE, UNKNOWN_BUTTON, unhandled
from bot.forms import LiveForms


class Form(discord.ui.Modal, title="A form"):
    answer = discord.ui.TextInput[discord.ui.Modal](label="Answer", custom_id="answer")


class Choice(discord.ui.View):
    @discord.ui.button(label="Pick", custom_id="pick-1")
    async def pick(self, interaction: discord.Interaction, _: discord.ui.Button[Choice]) -> None:
        """Never clicked here."""


@pytest.fixture
async def forms() -> LiveForms:  # discord.ui views need a running event loop
    return LiveForms()


async def test_an_open_modal_is_handled_until_it_stops(forms: LiveForms) -> None:
    modal = Form(timeout=900)
    forms.add(modal)
    assert forms.handles(modal.custom_id)
    assert not forms.handles("some-other-form")
    modal.stop()
    assert not forms.handles(modal.custom_id)


async def test_a_view_handles_its_components(forms: LiveForms) -> None:
    view = Choice(timeout=900)
    forms.add(view)
    assert forms.handles("pick-1")
    assert not forms.handles("pick-2")


async def test_a_form_nobody_holds_is_forgotten(forms: LiveForms) -> None:
    modal = Form(timeout=None)
    custom_id = modal.custom_id
    forms.add(modal)
    del modal
    gc.collect()
    assert not forms.handles(custom_id)


COMPONENT, MODAL = discord.InteractionType.component, discord.InteractionType.modal_submit


async def test_the_watchdog_leaves_an_open_form_to_its_handler(forms: LiveForms) -> None:
    """Found by the soak: in a machine-wide stall the watchdog told a form whose handler was
    still running that "Muster restarted". A form this client still has open is its
    handler's to answer, however late."""
    modal, view = Form(timeout=900), Choice(timeout=900)
    forms.add(modal)
    forms.add(view)
    assert unhandled(MODAL, {"custom_id": modal.custom_id}, forms) is None
    assert unhandled(COMPONENT, {"custom_id": "pick-1", "component_type": 2}, forms) is None
    modal.stop()
    assert unhandled(MODAL, {"custom_id": modal.custom_id}, forms) == STALE


async def test_the_watchdog_answers_what_nothing_handles(forms: LiveForms) -> None:
    assert unhandled(MODAL, {"custom_id": "shown-before-a-restart"}, forms) == STALE
    assert unhandled(COMPONENT, {"custom_id": "someone-else:join:1"}, forms) == STALE
    assert unhandled(COMPONENT, {"custom_id": "muster:join:nope"}, forms) == UNKNOWN_BUTTON
    game = "muster:join:0b0e7c52-4c39-4c4b-9a56-2a3c1a0e8f11"
    assert unhandled(COMPONENT, {"custom_id": game, "component_type": 2}, forms) is None
    assert unhandled(discord.InteractionType.application_command, {}, forms) is None
