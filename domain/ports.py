"""The one way entry points reach the domain: ``send(command) -> Outcome``.

Entry points (bot, API, scheduler, reactions to events) never hold a ``MusterApp``; they are
handed a :class:`CommandPort` by the composition root (``deploy/bootstrap.py``).

Contract of every implementation (``tests/contracts/command_port.py`` holds the cases, run
against each: in-process on POPO, in-process on JetStream, and the NATS command service,
``gateways/command_service/``, whose errors cross the wire as the same DomainError types):

* ``send`` returns the command's :class:`~domain.outcome.Outcome`, or raises the
  :class:`~domain.errors.DomainError` the domain decided; it never blocks the event loop.
* Sending the same ``command_id`` again returns the first Outcome with ``replayed=True`` and
  stores nothing.
* Commands on one game are decided one at a time (no lost update, no overbooking), whatever
  the number of concurrent senders.
* ``send`` raises ``TimeoutError`` when the domain could not be reached or did not answer in
  time (the command service's ``CommandUnavailable`` and ``CommandTimeout``); sending the same
  ``command_id`` again is then safe. Entry points tell the person to try again.
* After ``aclose()``, ``send`` raises ``RuntimeError``.
"""

from typing import Protocol

from domain.commands import AnyCommand
from domain.outcome import Outcome


class CommandPort(Protocol):
    """Send a command to the domain and get what happened."""

    async def send(self, command: AnyCommand) -> Outcome:
        """Decide and append ``command``; the Outcome, or the DomainError raised."""
        ...

    async def aclose(self) -> None:
        """Finish commands in flight and refuse new ones."""
        ...
