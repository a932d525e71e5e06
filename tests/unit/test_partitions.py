"""Partition assignment: deterministic, total (every aggregate has exactly one owner), in range,
and the FNV-1a NATS's ``partition`` transform uses."""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.partitions import BadPartition, Partition, fnv1a_32, partition_of

kinds = st.sampled_from(["game", "guild", "channel", "uuid"])
keys = st.one_of(st.uuids().map(str), st.integers(0, 2**63).map(str))
aggregates = st.builds(lambda kind, key: f"{kind}.{key}", kinds, keys)


@given(aggregate=aggregates, count=st.integers(1, 64))
def test_every_aggregate_has_exactly_one_owner_among_the_workers(
    aggregate: str, count: int
) -> None:
    owners = [p.index for p in Partition.all(count) if p.owns(aggregate)]
    assert owners == [partition_of(aggregate, count)]
    assert 0 <= owners[0] < count


@given(aggregate=aggregates, count=st.integers(1, 64))
def test_the_assignment_depends_only_on_the_aggregate_and_the_count(
    aggregate: str, count: int
) -> None:
    copy = "".join(aggregate)  # an equal string, not the same object
    assert partition_of(copy, count) == partition_of(aggregate, count)


@pytest.mark.parametrize("seed", range(5))
def test_games_spread_over_the_workers(seed: int) -> None:
    rng = random.Random(seed)
    counts = [0, 0, 0, 0]
    for _ in range(400):
        counts[partition_of(f"game.{uuid.UUID(int=rng.getrandbits(128), version=4)}", 4)] += 1
    assert min(counts) > 60  # 100 expected each; a skewed hash would starve a worker


def test_fnv1a_matches_the_published_test_vectors() -> None:
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


def test_the_kind_and_key_are_hashed_as_nats_joins_them() -> None:
    # nats-server's {{partition(N,1,2)}} hashes the wildcard tokens concatenated
    assert partition_of("guild.123", 7) == fnv1a_32(b"guild123") % 7


@pytest.mark.parametrize(("index", "count"), [(0, 0), (2, 2), (-1, 3)])
def test_a_partition_outside_the_count_is_refused_with_what_is_allowed(
    index: int, count: int
) -> None:
    with pytest.raises(BadPartition, match="between 0 and"):
        Partition(index, count)


def test_a_single_worker_keeps_the_plain_position_row() -> None:
    assert Partition().row("read_models") == "read_models"
    assert Partition(1, 3).row("read_models") == "read_models/1of3"
