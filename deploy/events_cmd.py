"""``muster events tail|export``: the log as JSON lines (or Parquet) for people and programs.

The envelope and the filters are documented in ``docs/events.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from deploy.settings import Settings
from deploy.supervise import stop_on_signals


def add_parser(command: Any) -> None:
    """Register ``events tail`` and ``events export``; ``command(name, help)`` makes a
    subcommand's parser (as ``deploy.cli`` does for all of them)."""
    events = command("events", "follow or export the event log as JSON lines")
    actions = events.add_subparsers(dest="action", required=True, metavar="ACTION")
    tail = actions.add_parser("tail", help="print events as JSON lines, following new ones")
    _filters(tail)
    tail.add_argument("--limit", type=int, help="stop after this many events")
    tail.add_argument("--no-follow", action="store_true", help="stop at the log's current end")
    export = actions.add_parser("export", help="write events to a file (JSON lines or Parquet)")
    _filters(export)
    export.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    export.add_argument(
        "--format", choices=["jsonl", "parquet"],
        help="jsonl (default) or parquet (default when the file ends in .parquet)",
    )  # fmt: skip
    export.add_argument("--quiet", action="store_true", help="no progress bar")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--type", dest="types", action="append", metavar="TYPE",
                        help="event type, e.g. game.player_joined (repeatable)")  # fmt: skip
    parser.add_argument("--game", dest="games", action="append", metavar="GAME_ID",
                        help="only this game's events (repeatable)")  # fmt: skip
    parser.add_argument("--guild", dest="guilds", action="append", metavar="GUILD_ID",
                        help="only events of this guild, its channels and games")  # fmt: skip
    parser.add_argument("--channel", dest="channels", action="append", metavar="CHANNEL_ID",
                        help="only events of this channel and its games")  # fmt: skip
    parser.add_argument("--from", dest="start", metavar="SEQ|TIME",
                        help="start at a stream sequence or an ISO 8601 time")  # fmt: skip


def run_events(args: argparse.Namespace, settings: Settings) -> int:
    """Check the filters, then tail or export; a bad filter is one paragraph and exit 1."""
    from deploy.endpoints import resolve_urls
    from projections.event_export import MissingExtra
    from projections.event_stream import BadFilter, EventFilter

    try:
        chosen = EventFilter.parse(
            types=args.types, games=args.games, guilds=args.guilds, channels=args.channels,
            start=args.start,
        )  # fmt: skip
        _check_limit(args)
        fmt = _format_of(args) if args.action == "export" else "jsonl"
        if fmt == "parquet":
            from projections.event_export import parquet_schema

            parquet_schema()  # fails early, with the fix, when the extra is missing
    except (BadFilter, MissingExtra) as error:
        print(f"muster events {args.action}: {error}", file=sys.stderr)
        return 1
    import nats.js.errors

    urls = resolve_urls(settings, needs=("nats",))
    try:
        if args.action == "tail":
            return asyncio.run(_tail(settings, urls["nats"], chosen, args))
        return asyncio.run(_export(settings, urls["nats"], chosen, args, fmt))
    except nats.js.errors.NotFoundError:
        print(
            f"muster events {args.action}: there is no event log yet: the stream "
            f"{settings.events_stream} does not exist on this NATS server "
            "(`muster up` creates it on first start).",
            file=sys.stderr,
        )
        return 1


def _check_limit(args: argparse.Namespace) -> None:
    from projections.event_stream import BadFilter

    if args.action == "tail" and args.limit is not None and args.limit < 1:
        raise BadFilter("--limit must be at least 1.")


def _format_of(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    return "parquet" if args.output.suffix == ".parquet" else "jsonl"


async def _tail(settings: Settings, url: str, chosen: Any, args: argparse.Namespace) -> int:
    from deploy.projector_cmd import layout_of, nats_connection
    from projections.event_export import JsonLinesWriter
    from projections.event_stream import StreamReader

    stop = stop_on_signals()
    writer = JsonLinesWriter(sys.stdout.buffer, flush_each_batch=True)
    left = args.limit
    async with nats_connection(settings, url) as nc:
        reader = StreamReader(nc, layout_of(settings), chosen, follow=not args.no_follow)
        batches = reader.batches()
        try:
            while not stop.is_set():
                next_batch = asyncio.ensure_future(anext(batches))
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait({next_batch, stopped}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                if not next_batch.done():
                    next_batch.cancel()
                    break
                batch = next_batch.result()
                if left is not None:
                    batch = batch[:left]
                    left -= len(batch)
                writer.write(batch)
                if left == 0:
                    break
        except StopAsyncIteration:
            pass
        except BrokenPipeError:  # `muster events tail | head`: the reader went away
            return 0
        finally:
            await batches.aclose()
    return 0


async def _export(
    settings: Settings, url: str, chosen: Any, args: argparse.Namespace, fmt: str
) -> int:
    from deploy.projector_cmd import layout_of, nats_connection
    from projections.event_export import (
        EnvelopeWriter,
        JsonLinesWriter,
        ParquetWriter,
        export_events,
    )
    from projections.event_stream import StreamReader

    started = time.monotonic()
    shown = [0.0]

    def progress(reader: StreamReader, written: int) -> None:
        now = time.monotonic()
        if args.quiet or now - shown[0] < 0.5:
            return
        shown[0] = now
        sys.stderr.write(_progress_line(reader, written, started))
        sys.stderr.flush()

    out = None
    writer: EnvelopeWriter
    if fmt == "parquet":
        writer = ParquetWriter(args.output)
    else:
        out = args.output.open("wb")
        writer = JsonLinesWriter(out)
    try:
        async with nats_connection(settings, url) as nc:
            count = await export_events(nc, layout_of(settings), chosen, writer, progress)
    finally:
        if out is not None:
            out.close()
    elapsed = time.monotonic() - started
    if not args.quiet:
        sys.stderr.write("\n" if shown[0] else "")
    print(f"exported {count:,} events to {args.output} ({fmt}) in {elapsed:.1f}s", file=sys.stderr)
    return 0


def _progress_line(reader: Any, written: int, started: float) -> str:
    """``[#####     ] 12,345/1,000,000 log positions  3,210 events written  45,678 ev/s``"""
    first = reader.end - reader.pending if reader.pending else 0
    done = max(reader.last_seq - first, 0)
    total = max(reader.end - first, 1)
    share = min(done / total, 1.0)
    rate = written / max(time.monotonic() - started, 1e-9)
    return (
        f"\r[{'#' * int(share * 30):<30}] {reader.last_seq:,}/{reader.end:,} log positions  "
        f"{written:,} events written  {rate:,.0f} ev/s"
    )
