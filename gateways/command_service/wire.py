"""What crosses NATS between an entry point and a command worker, and how games are partitioned.

A request is one command with its type name; a reply is the command's
:class:`~domain.outcome.Outcome`, the :class:`~domain.errors.DomainError` the domain decided
(rebuilt on the caller's side as the same type, with the same attributes and message), or a
failure of the worker itself. Everything is msgspec JSON.

Games (and guild and channel settings) are spread over ``workers`` partitions by a stable hash
of the aggregate id; partition ``k`` of ``n`` is served on the subject ``<prefix>.<n>.<k>``.
The count is part of the subject, so a caller and workers that disagree about it meet no one
(and say so) instead of two workers writing one game.
"""

from __future__ import annotations

import inspect
import typing
import zlib
from typing import Any

import msgspec

from domain.commands import AnyCommand
from domain.decisions import target
from domain.errors import DomainError
from domain.outcome import Outcome

COMMAND_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(AnyCommand)}
"""Every command class by name (the ``type`` of a request)."""


def _domain_errors(base: type[DomainError] = DomainError) -> dict[str, type[DomainError]]:
    found = {base.__name__: base}
    for sub in base.__subclasses__():
        found |= _domain_errors(sub)
    return found


class Request(msgspec.Struct, frozen=True):
    """One command on its way to a worker."""

    type: str
    command: msgspec.Raw


class Done(msgspec.Struct, frozen=True, tag="done", tag_field="reply"):
    """The command was handled: what happened."""

    outcome: Outcome


class Refused(msgspec.Struct, frozen=True, tag="refused", tag_field="reply"):
    """The domain refused the command: the error's class, code, message and arguments."""

    type: str
    code: str
    message: str
    args: dict[str, Any] = {}


class Failed(msgspec.Struct, frozen=True, tag="failed", tag_field="reply"):
    """The worker could not handle the command (not a domain rule: a bug, the log down...)."""

    type: str
    message: str


Reply = Done | Refused | Failed

_encoder = msgspec.json.Encoder()
_request = msgspec.json.Decoder(Request)
_reply: msgspec.json.Decoder[Reply] = msgspec.json.Decoder(Reply)


class CommandFailed(RuntimeError):
    """A command worker failed to handle a command for a reason that is not a domain rule."""


class BadRequest(ValueError):
    """A request a worker cannot read (not a command it knows)."""


# -- partitions ---------------------------------------------------------------------------------


def partition_of(aggregate_id: str, workers: int) -> int:
    """Which of ``workers`` partitions owns ``aggregate_id`` (the same in every process)."""
    return zlib.crc32(aggregate_id.encode()) % workers


def subject_of(prefix: str, workers: int, partition: int) -> str:
    """The request subject of one partition."""
    return f"{prefix}.{workers}.{partition}"


def route(command: AnyCommand, prefix: str, workers: int) -> str:
    """The subject a command is sent to (raises the DomainError of an unaddressable command)."""
    return subject_of(prefix, workers, partition_of(target(command), workers))


# -- requests -----------------------------------------------------------------------------------

PING, PONG = b"ping", b"pong"
"""A request that only asks whether a partition is served (``muster doctor``), and its answer."""


def encode_request(command: AnyCommand) -> bytes:
    return _encoder.encode(Request(type(command).__name__, msgspec.Raw(_encoder.encode(command))))


def decode_request(data: bytes) -> AnyCommand:
    """The command in a request, or :class:`BadRequest` saying why not."""
    try:
        request = _request.decode(data)
        cls = COMMAND_TYPES.get(request.type)
        if cls is None:
            raise BadRequest(f"unknown command type {request.type!r}")
        command: AnyCommand = msgspec.json.decode(request.command, type=cls)
    except msgspec.DecodeError as error:
        raise BadRequest(f"not a command: {error}") from None
    return command


# -- replies ------------------------------------------------------------------------------------


def encode_outcome(outcome: Outcome) -> bytes:
    return _encoder.encode(Done(outcome))


def encode_error(error: BaseException) -> bytes:
    """A refusal (DomainError, with the arguments to rebuild it) or a worker failure."""
    if isinstance(error, DomainError):
        names = inspect.signature(type(error).__init__).parameters
        args = {name: getattr(error, name) for name in names if hasattr(error, name)}
        try:
            return _encoder.encode(Refused(type(error).__name__, error.code, error.message, args))
        except (TypeError, msgspec.EncodeError):  # an attribute JSON cannot hold
            return _encoder.encode(Refused(type(error).__name__, error.code, error.message))
    return _encoder.encode(Failed(type(error).__name__, str(error)))


def decode_reply(data: bytes) -> Outcome:
    """The Outcome in a reply, or raise what the worker reported."""
    try:
        reply = _reply.decode(data)
    except msgspec.DecodeError as error:
        raise CommandFailed(f"the command worker sent an unreadable reply: {error}") from None
    match reply:
        case Done(outcome=outcome):
            return outcome
        case Refused():
            raise rebuild(reply)
        case Failed(type=kind, message=message):
            raise CommandFailed(f"the command worker failed: {kind}: {message}")
    raise AssertionError(reply)  # pragma: no cover - the union is exhausted above


def rebuild(refused: Refused) -> DomainError:
    """The DomainError a worker raised, as the same type with the same arguments; a plain
    DomainError with its code and message when this side does not know the type."""
    cls = _domain_errors().get(refused.type)
    if cls is not None and refused.args:
        hints = typing.get_type_hints(cls.__init__)
        try:
            kwargs = {
                name: msgspec.convert(value, hints.get(name, Any))
                for name, value in refused.args.items()
            }
            return cls(**kwargs)
        except (TypeError, msgspec.ValidationError):
            pass
    error = DomainError(refused.message)
    error.code = refused.code
    return error


__all__ = [
    "COMMAND_TYPES",
    "PING",
    "PONG",
    "BadRequest",
    "CommandFailed",
    "decode_reply",
    "decode_request",
    "encode_error",
    "encode_outcome",
    "encode_request",
    "partition_of",
    "rebuild",
    "route",
    "subject_of",
]
