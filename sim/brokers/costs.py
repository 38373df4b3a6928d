"""What a broker's cost model charges, as numbers: the stages a message's work waits at.

Each broker with a cost model has an `account(section, load)` (its package's cost.py) that says,
for a broker section and a steady load, which serial stages the message's work passes
through and how much work each message leaves at the busiest instance of each. The simulator
runs those stages (queues of requests served by `servers` at once); the accounting states
the same rules in closed form, so that

- a stage's capacity is `servers / work` messages a second, and the model's capacity the
  smallest of them (the bottleneck): what `mqsim omb`'s rate search finds on a preset
  (tested), and what tools/calibrate.py compares with published peak throughputs;
- `latency` is how long a publish takes to be answered with no queueing anywhere, network
  hops excluded: the stages' own service times on the way and the fixed waits (fsyncs,
  replication round trips, API latencies). A synchronous client's cycle is this plus its
  network round trip (the closed-loop calibration of mqperf's senders).

A quota (SQS's per-action transactions per second) is a stage too: not a server that makes
work wait, but a ceiling above which requests are refused (`kind="quota"`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Account", "CostModelSpec", "Load", "Stage"]


@dataclass(frozen=True)
class Load:
    """A steady load as the accounting needs it.

    `batch` messages go in one producer batch (one partition, one publish call), and a request
    carries `batches_per_request` batches; consumers take `receive_batch` messages a call;
    the load is spread evenly over `partitions` partitions, queues or streams, each message
    reaching `subscriptions` consumer groups (or queues bound to it), from `producers`
    producers (channels, connections), with keys of `key_size` bytes."""

    message_size: int
    batch: float = 1.0
    batches_per_request: float = 1.0
    partitions: int = 1
    subscriptions: int = 1
    receive_batch: float = 1.0
    producers: int = 1
    key_size: int = 0

    def __post_init__(self) -> None:
        if self.batch < 1 or self.batches_per_request < 1 or self.receive_batch < 1:
            raise ValueError("batches hold at least one message")
        if self.partitions < 1 or self.subscriptions < 1 or self.producers < 1:
            raise ValueError("partitions, subscriptions and producers are at least 1")


@dataclass(frozen=True)
class Stage:
    """`servers` servers of one instance (a broker's request handlers, a queue's Erlang
    process, a Redis event loop), and the seconds of work one message of the whole load
    leaves at the busiest instance."""

    name: str
    servers: int
    work: float
    kind: Literal["server", "quota"] = "server"

    @property
    def capacity(self) -> float:
        """Messages a second of the whole load at which the busiest instance is saturated."""
        return math.inf if self.work <= 0 else self.servers / self.work

    def utilization(self, rate: float) -> float:
        return rate * self.work / self.servers


@dataclass(frozen=True)
class Account:
    """The stages of a load on a broker section, and a publish's no-queueing latency."""

    stages: tuple[Stage, ...] = ()
    latency: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def capacity(self) -> float:
        """The highest sustainable rate (msg/s): the bottleneck stage's capacity."""
        return min((s.capacity for s in self.stages), default=math.inf)

    @property
    def bottleneck(self) -> Stage | None:
        servers = [s for s in self.stages if s.work > 0]
        return min(servers, key=lambda s: s.capacity) if servers else None


@dataclass(frozen=True)
class CostModelSpec:
    """A broker's cost model as the calibration and the notebooks use it outside a run
    (BrokerSpec.costs): the name published.csv gives the system, how a preset's part and a
    study's setup make a `broker:` section of one destination (`section(part, setup)`, part
    holding `cost` and `broker` fields), and the account of a load on the validated section
    (`account(config, part, load, setup)`; the part for a broker whose section has no cost
    field yet)."""

    published: str
    section: Callable[[Mapping[str, Mapping[str, Any]], Mapping[str, Any]], dict[str, Any]]
    account: Callable[[Any, Mapping[str, Mapping[str, Any]], Load, Mapping[str, Any]], Account]
