"""The SQS cost model (opt-in, `broker.cost`): how long each API call takes, and the quotas as
ceilings.

SQS is a managed service: what a client sees is the time each call takes, not servers it
could saturate. A standard queue has "a nearly unlimited number of API calls per second, per
API action" (Developer Guide, quotas-messages.html), so adding clients adds throughput;
what bounds one client is that its calls are synchronous HTTPS requests. The model charges

- `send_latency` per SendMessage: the message is stored (visible to receivers) that long
  after the producer sends it, the time until SQS answers (request, redundant store, reply);
- `receive_latency` per ReceiveMessage that returns messages: the consumer has them that long
  after the request reaches the queue (on top of the network hops, and of any long-poll wait).

Both are distributions (`50ms`, `exp(10ms)`...); the calibrated presets fit them on mqperf's
single-thread runs (sim/presets/, docs/calibration.md). FIFO queues keep their per-action
quotas (sim/brokers/sqs/quotas.py: 300 transactions a second per action, 3,000 messages with
batches of 10), which refuse calls over the ceiling rather than slow them down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sim.brokers.costs import Account, CostModelSpec, Load, Stage
from sim.brokers.sqs.quotas import Quotas

if TYPE_CHECKING:
    from sim.brokers.sqs.config import SQSConfig

__all__ = ["COSTS", "account", "calibration_section"]


def account(config: SQSConfig, load: Load, queue: str | None = None) -> Account:
    """No server stages (a standard queue has no ceiling); a FIFO queue's SendMessage quota
    as a quota stage: 300 calls of `load.batch` messages a second per queue."""
    cost = config.cost
    settings = config.queues[0] if queue is None else config.queue(queue)
    stages: tuple[Stage, ...] = ()
    if settings.fifo:
        calls = Quotas().fifo_transactions_per_second
        assert calls is not None
        per_queue = calls * load.batch
        stages = (Stage("FIFO SendMessage quota", 1, 1.0 / (per_queue * load.partitions), "quota"),)
    if cost is None:
        return Account(stages, 0.0, ("no call latencies: the ideal service",))
    return Account(stages, cost.send_latency.mean)


def calibration_section(part: Mapping[str, Mapping[str, Any]], setup: Mapping[str, Any]) -> dict:
    """One queue: standard, or FIFO with setup key `fifo`."""
    fifo = bool(setup.get("fifo"))
    queue = {"name": "q.fifo" if fifo else "q", "fifo": fifo}
    broker = dict(part.get("broker", {}))
    return {"type": "sqs", **broker, "queues": [queue], "cost": dict(part["cost"])}


COSTS = CostModelSpec(
    published="sqs",
    section=calibration_section,
    account=lambda config, part, load, setup: account(config, load),
)
