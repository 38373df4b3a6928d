"""The Redis cost model (opt-in, `broker.cost`): one event loop does every command.

Redis executes commands on one thread (the event loop, ae.c; "Redis is, mostly, a
single-threaded server", redis.io/docs/latest/operate/oss_and_stack/management/optimization/
latency/), so a server is one serial stage whatever its cores. Each command occupies it for
`per_command` plus `per_entry` for each stream entry it adds or returns:

- XADD of one message: per_command + per_entry, plus `replica_feed` for each of `replicas`
  replicas: a master appends every write to each replica's output buffer in the loop
  (replicationFeedSlaves) and replicates asynchronously, so no write waits for a replica;
- XREADGROUP returning n entries: per_command + n x per_entry;
- XACK (manual acknowledgement; NOACK reads send none): per_command;
- the AOF (`appendfsync`, redis.conf): `everysec` (the default) and `no` fsync in a
  background thread, off the loop; `always` fsyncs before replying, here `fsync` of loop time
  per write command. (Redis groups the writes of one loop iteration into one fsync; charging
  each write is the upper bound of that, kept simple.)

The calibrated presets fit `per_command` on mqperf's Redis Streams runs (sim/presets/,
docs/calibration.md); `per_entry` and `replica_feed` default to 0: no published figure
separates them from the per-command cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.costs import Account, CostModelSpec, Load, Stage

if TYPE_CHECKING:
    from sim.brokers.redis.config import CostConfig, RedisConfig

__all__ = ["COSTS", "EventLoop", "account", "calibration_section", "write_time"]


def write_time(cost: CostConfig, entries: int = 1) -> float:
    """Loop time of an XADD of `entries` entries: the command, its entries, the replicas'
    feeds and, with appendfsync always, the fsync."""
    fsync = cost.fsync if cost.appendfsync == "always" else 0.0
    return cost.per_command + cost.per_entry * entries + cost.replica_feed * cost.replicas + fsync


class EventLoop:
    """The server's one thread seen from outside: `run(service, fn, *args)` calls `fn` once the
    loop has worked `service` seconds on it, commands in arrival order (a FIFO single server:
    done = max(arrival, last done) + service); `done(service)` is the same as an event."""

    __slots__ = ("_last", "env")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._last = 0.0

    def _finish(self, service: float) -> float:
        done = max(self.env.now, self._last) + service
        self._last = done
        return done - self.env.now

    def run(self, service: float, fn: Callable[..., Any], *args: Any) -> None:
        event = self.env.timeout(self._finish(service))
        event.callbacks.append(lambda _event: fn(*args))

    def done(self, service: float) -> simpy.Event:
        return self.env.timeout(self._finish(service))


def account(config: RedisConfig, load: Load, manual_ack: bool = True) -> Account:
    """One loop for every stream (one server): each message's XADD, its share of a read of
    `load.receive_batch` entries per group, and an XACK per group with manual acks."""
    cost = config.cost
    if cost is None:
        return Account(notes=("the ideal server: no costs",))
    groups = load.subscriptions
    read = cost.per_command / load.receive_batch + cost.per_entry
    ack = cost.per_command if manual_ack else 0.0
    work = write_time(cost) + groups * (read + ack)
    return Account((Stage("event loop", 1, work),), write_time(cost))


def calibration_section(part: Mapping[str, Mapping[str, Any]], setup: Mapping[str, Any]) -> dict:
    """One stream `s`."""
    broker = dict(part.get("broker", {}))
    return {"type": "redis", **broker, "streams": [{"name": "s"}], "cost": dict(part["cost"])}


COSTS = CostModelSpec(
    published="redis-streams",
    section=calibration_section,
    account=lambda config, part, load, setup: account(
        config, load, manual_ack=setup.get("ack", "manual") == "manual"
    ),
)
