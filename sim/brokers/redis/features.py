"""What the Redis Streams model covers for the feature table (docs/features.md)."""

from __future__ import annotations

from sim.brokers.base import Feature

__all__ = ["FEATURES"]

FEATURES: tuple[Feature, ...] = (
    Feature(
        "Consumer groups: XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM",
        "7.0",
        "modelled",
        "recorded: shared/conformance/redis/streams_traces.json (7.0.15); src/t_stream.c",
    ),
    Feature(
        "Every stream command: XREVRANGE, exclusive ranges, XDEL, XSETID, XTRIM MINID, "
        "XADD NOMKSTREAM/MINID/LIMIT, XINFO STREAM [FULL]/GROUPS/CONSUMERS, XGROUP subcommands",
        "7.0",
        "modelled",
        "recorded: tests/data/redis_streams_extra_traces.json (7.0.15)",
    ),
    Feature(
        "MAXLEN ~ trimming by whole radix-tree nodes",
        "7.0",
        "modelled",
        "recorded: streams_traces.json; stream-node-max-entries 100",
    ),
    Feature(
        "Persistence, replication, server crash and restart",
        "7.0",
        "not modelled",
        "https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/",
        "one server without persistence",
    ),
)
