"""The `broker:` section of a scenario for the Redis Streams model (type: redis)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from sim.brokers.redis.retries import dead_letter_stream
from sim.brokers.redis.stream import NODE_MAX_ENTRIES
from sim.clients.config import ConsumerBase, ProducerBase
from sim.fieldtypes import Duration, StrictModel
from sim.presets import PresetCost

__all__ = [
    "CostConfig",
    "GroupConfig",
    "RedisConfig",
    "RedisConsumerConfig",
    "RedisProducerConfig",
    "StreamConfig",
]

Loc = tuple[str | int, ...]


class RedisProducerConfig(ProducerBase):
    """A producer XADDs with `*` ids; it has no fields of its own."""


class RedisConsumerConfig(ConsumerBase):
    """The consumer group the replicas read in with XREADGROUP (each replica is the group's
    consumer `<name>.<i>`), and the idle time after which a replica XAUTOCLAIMs entries another
    one left pending (unset: pending entries wait for their own consumer)."""

    group: str | None = Field(default=None, min_length=1)
    claim_idle: Duration | None = Field(default=None, gt=0)


class StreamConfig(StrictModel):
    """A stream key; producers XADD to it, with `MAXLEN [~] maxlen` when `maxlen` is set."""

    name: str = Field(min_length=1)
    maxlen: int | None = Field(default=None, ge=0)
    approximate: bool = False  # MAXLEN ~: trim whole radix-tree nodes only

    @model_validator(mode="after")
    def _approximate_needs_maxlen(self) -> StreamConfig:
        if self.approximate and self.maxlen is None:
            raise ValueError("approximate: applies only with maxlen")
        return self


class GroupConfig(StrictModel):
    """A consumer group, created at the start with XGROUP CREATE <stream> <name> <start>."""

    stream: str = Field(min_length=1)
    name: str = Field(min_length=1)
    start: Literal["$", "0"] = "$"


class CostConfig(PresetCost):
    """The event loop's time per command (opt-in; sim/brokers/redis/cost.py): `cost: {preset:
    mqperf-2021}` takes the calibrated figures (sim/presets/)."""

    SYSTEM: ClassVar[str] = "redis"
    per_command: Duration = 0.0
    per_entry: Duration = 0.0
    replicas: int = Field(default=0, ge=0)  # replicas this master feeds (asynchronously)
    replica_feed: Duration = 0.0  # loop time per write per replica
    appendfsync: Literal["always", "everysec", "no"] = "everysec"  # redis.conf's default
    fsync: Duration = 0.0  # one fsync of the AOF (appendfsync always only)


class RedisConfig(StrictModel):
    type: Literal["redis"]
    streams: list[StreamConfig] = Field(min_length=1)
    groups: list[GroupConfig] = []
    cost: CostConfig | None = None  # None: every command is instant (the ideal server)
    stream_node_max_entries: int = Field(
        default=NODE_MAX_ENTRIES, ge=1, alias="stream-node-max-entries"
    )

    @model_validator(mode="after")
    def _unique(self) -> RedisConfig:
        names = [s.name for s in self.streams]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            raise ValueError(f"streams: the name {twice!r} is used twice")
        pairs = [(g.stream, g.name) for g in self.groups]
        twice_group = next((p for p in pairs if pairs.count(p) > 1), None)
        if twice_group is not None:
            raise ValueError(
                f"groups: stream {twice_group[0]!r} has group {twice_group[1]!r} twice"
            )
        return self

    def stream(self, name: str) -> StreamConfig:
        return next(s for s in self.streams if s.name == name)

    def groups_of(self, stream: str) -> list[str]:
        return [g.name for g in self.groups if g.stream == stream]

    def destinations(self) -> set[str]:
        """Names a producer may XADD `to`: streams."""
        return {s.name for s in self.streams}

    def sources(self) -> set[str]:
        """Names a consumer may read `from`: streams."""
        return {s.name for s in self.streams}

    def reference_errors(self) -> Iterator[tuple[Loc, str]]:
        streams = sorted(self.destinations())
        for i, group in enumerate(self.groups):
            if group.stream not in streams:
                yield (
                    ("broker", "groups", i, "stream"),
                    f"unknown stream {group.stream!r} (known: {', '.join(streams)})",
                )

    def client_errors(
        self, producers: list[RedisProducerConfig], consumers: list[RedisConsumerConfig]
    ) -> Iterator[tuple[Loc, str]]:
        """Every consumer reads in one of its stream's groups."""
        for i, consumer in enumerate(consumers):
            known = self.groups_of(consumer.from_)
            if consumer.group is None:
                yield (
                    ("consumers", i, "group"),
                    "required field is missing (the consumer group to read in, known: "
                    + (", ".join(known) or "none, add broker.groups")
                    + ")",
                )
            elif consumer.group not in known:
                yield (
                    ("consumers", i, "group"),
                    f"stream {consumer.from_!r} has no group {consumer.group!r} (known: "
                    + (", ".join(known) or "none")
                    + ")",
                )
            if consumer.claim_idle is not None and consumer.ack == "auto":
                yield (
                    ("consumers", i, "claim_idle"),
                    "needs ack: manual (NOACK reads leave nothing pending to claim)",
                )
            if consumer.retry is not None:
                if consumer.ack == "auto":
                    yield (
                        ("consumers", i, "retry"),
                        "needs ack: manual (a NOACK read leaves nothing pending to retry)",
                    )
                if dead_letter_stream(consumer.from_) in self.destinations():
                    yield (
                        ("consumers", i, "retry"),
                        f"the retry policy adds to the stream "
                        f"{dead_letter_stream(consumer.from_)!r}, which the scenario declares",
                    )

    def add_to_graph(self, graph: Any) -> None:
        """Streams as nodes, labelled with their trimming and consumer groups."""
        for stream in self.streams:
            notes = []
            if stream.maxlen is not None:
                notes.append(f"MAXLEN {'~ ' if stream.approximate else ''}{stream.maxlen}")
            groups = self.groups_of(stream.name)
            if groups:
                notes.append("groups: " + ", ".join(groups))
            label = stream.name + (f"\n({'; '.join(notes)})" if notes else "")
            graph.add_node(stream.name, kind="topic", label=label)
