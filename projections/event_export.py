"""Writing exported events: JSON lines (always) and Parquet (with the ``parquet`` extra).

Both writers take :class:`~projections.event_stream.Envelope` batches as they are read and keep
nothing else in memory: JSON lines are written batch by batch, Parquet one row group per
``ROW_GROUP`` events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec
from nats.aio.client import Client as NATS

from gateways.jetstream.layout import Layout
from projections.event_stream import Envelope, EventFilter, StreamReader

ROW_GROUP = 50_000


class MissingExtra(RuntimeError):
    """Parquet was asked for without the optional ``parquet`` extra installed."""


class EnvelopeWriter(Protocol):
    """Takes batches of envelopes in log order; ``close`` finishes the file."""

    def write(self, batch: list[Envelope]) -> None: ...

    def close(self) -> None: ...


class JsonLinesWriter:
    """One envelope per line, UTF-8, ``\\n`` after each (the body exactly as stored)."""

    def __init__(self, out: IO[bytes], *, flush_each_batch: bool = False) -> None:
        self.out = out
        self.flush_each_batch = flush_each_batch
        self._encoder = msgspec.json.Encoder()

    def write(self, batch: list[Envelope]) -> None:
        self.out.write(self._encoder.encode_lines(batch))
        if self.flush_each_batch:
            self.out.flush()

    def close(self) -> None:
        self.out.flush()


def parquet_schema() -> Any:
    """The Parquet columns: the envelope's fields, times as UTC timestamps, body as JSON text."""
    pa = _pyarrow()
    return pa.schema(
        [
            ("seq", pa.int64()),
            ("subject", pa.string()),
            ("type", pa.string()),
            ("version", pa.int32()),
            ("time", pa.timestamp("us", tz="UTC")),
            ("stored_at", pa.timestamp("us", tz="UTC")),
            ("aggregate_id", pa.string()),
            ("aggregate_version", pa.int64()),
            ("command_id", pa.string()),
            ("actor_id", pa.string()),
            ("msg_id", pa.string()),
            ("body", pa.string()),
        ]
    )


class ParquetWriter:
    """Row groups of ``ROW_GROUP`` envelopes, zstd-compressed; open with DuckDB or pandas."""

    def __init__(self, path: Path) -> None:
        pa = _pyarrow()
        import pyarrow.parquet as pq

        self._pa = pa
        self.schema = parquet_schema()
        self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self._rows: list[Envelope] = []

    def write(self, batch: list[Envelope]) -> None:
        self._rows.extend(batch)
        if len(self._rows) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        pa, rows = self._pa, self._rows
        self._rows = []
        timestamp = pa.timestamp("us", tz="UTC")
        columns = [
            pa.array([r.seq for r in rows], pa.int64()),
            pa.array([r.subject for r in rows], pa.string()),
            pa.array([r.type for r in rows], pa.string()),
            pa.array([r.version for r in rows], pa.int32()),
            pa.array([r.time or None for r in rows], pa.string()).cast(timestamp),
            pa.array([r.stored_at or None for r in rows], pa.string()).cast(timestamp),
            pa.array([r.aggregate_id for r in rows], pa.string()),
            pa.array([r.aggregate_version for r in rows], pa.int64()),
            pa.array([r.command_id for r in rows], pa.string()),
            pa.array([r.actor_id for r in rows], pa.string()),
            pa.array([r.msg_id for r in rows], pa.string()),
            pa.array([bytes(r.body).decode() for r in rows], pa.string()),
        ]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))

    def close(self) -> None:
        self._flush()
        self._writer.close()


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise MissingExtra(
            "Parquet output needs pyarrow, which comes with the optional extra: "
            "pip install 'muster[parquet]' (or write JSON lines: --format jsonl)."
        ) from None
    return pyarrow


async def export_events(
    nc: NATS,
    layout: Layout,
    chosen: EventFilter,
    writer: EnvelopeWriter,
    on_batch: Callable[[StreamReader, int], None] | None = None,
) -> int:
    """Write every event that passes ``chosen``, up to the log's end as it was; returns how many.

    ``on_batch(reader, written)`` is called after each batch (progress: ``reader.last_seq`` of
    ``reader.end``).
    """
    reader = StreamReader(nc, layout, chosen)
    written = 0
    async for batch in reader.batches():
        writer.write(batch)
        written += len(batch)
        if on_batch:
            on_batch(reader, written)
    writer.close()
    return written


class _Imported(msgspec.Struct):
    """The envelope fields a re-import needs."""

    aggregate_id: str
    aggregate_version: int
    type: str
    version: int
    msg_id: str | None
    body: msgspec.Raw


async def import_events(
    nc: NATS, layout: Layout, lines: Iterable[bytes], window: int = 2_000
) -> int:
    """Append exported JSON lines to an (empty) log, bodies byte for byte; returns how many.

    For restoring an export into a fresh stream (tests prove a replay of it equals the original
    read models). No concurrency checks: the log written to must not be in use.
    """
    from gateways.jetstream.layout import H_MSG_ID, event_headers

    js = nc.jetstream()
    await js.add_stream(layout.stream_config())
    decoder = msgspec.json.Decoder(_Imported)
    pending = []
    count = 0
    for line in lines:
        if not line.strip():
            continue
        item = decoder.decode(line)
        headers = event_headers(f"{item.type}.v{item.version}", item.aggregate_version)
        if item.msg_id:
            headers[H_MSG_ID] = item.msg_id
        subject = layout.subject_for(item.aggregate_id)
        pending.append(await js.publish_async(subject, bytes(item.body), headers=headers))
        count += 1
        if len(pending) >= window:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return count
