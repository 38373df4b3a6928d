"""RabbitMQ versions the model knows, and the behaviours that changed between them.

`broker.version` picks one. The traces the model was built on were recorded on RabbitMQ 3.10.8
(shared/conformance/rabbitmq/); they replay with version "3.10". The default is the newest
modelled 4.x line. What changed from 3.10 to 4.x, and is modelled here:

- Quorum queues have a delivery limit of 20 when none is set (RabbitMQ 4.0 release notes,
  "Quorum Queues Now Have a Default Redelivery Limit"; rabbit_quorum_queue.erl,
  `-define(DEFAULT_DELIVERY_LIMIT, 20)` and gather_policy_config/2). A message returned more
  than 20 times is dead-lettered or dropped instead of looping for ever. `x-delivery-limit: -1`
  switches the limit off (same release notes; rabbit_fifo.erl treats a negative limit as none).
  Before 4.0 a quorum queue had no limit unless one was set, and a negative value is refused.
- With a limit in force every return goes to the front of the queue in return order
  (rabbit_fifo.erl return_one/8: `returns = lqueue:in(Msg, Returns)`); without one a nack goes to
  the back (rabbit_fifo.erl handle_aux `#return{}` with `delivery_limit = undefined` re-enqueues).
  That rule is the same in 3.10 (recorded) and 4.x; only the default limit changed, so a 4.x
  quorum queue without `x-delivery-limit` puts nacked messages at the front.
- Classic queue mirroring (the `ha-mode` policies) was removed in 4.0 (4.0 release notes,
  "Classic Queues is Now a Non-Replicated Queue Type"). The model never replicated classic
  queues: under every version a classic queue is one replica on the one node.

- basic.nack and basic.reject on a stream: 3.10 closes the connection with NOT_IMPLEMENTED
  (rabbit_stream_queue.erl 3.10.8 settle/4; recorded); since 3.13 they only give credit back.

Streams (`x-queue-type: stream`, sim/brokers/rabbitmq/stream.py) exist in every modelled version
(they came in 3.9).

Not modelled (see docs/rabbitmq-4.md): RabbitMQ 4.3, which bases the delivery limit on the
delivery-count (basic.nack with requeue no longer counts, basic.reject with requeue does),
adds strict quorum-queue priorities, delayed retries and consumer timeouts, and refuses
transient non-exclusive queues (4.3.0 release notes); quorum-queue message priorities of 4.0-4.2
(two levels, rabbit_fifo_q.erl).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_VERSION", "VERSIONS", "Version", "VersionName", "behaviour"]

VersionName = Literal["3.10", "4.0", "4.1", "4.2"]


@dataclass(frozen=True, slots=True)
class Version:
    """What one RabbitMQ version does where versions differ."""

    name: str
    #: x-delivery-limit of a quorum queue declared without one (None: no limit).
    quorum_default_delivery_limit: int | None
    #: Whether a negative x-delivery-limit is accepted (meaning: no limit).
    negative_delivery_limit_disables: bool
    #: Whether classic queues could be mirrored by policy (never modelled; kept for the table).
    classic_mirroring: bool
    #: Whether basic.nack and basic.reject on a stream only give credit back (3.13 and later:
    #: rabbit_stream_queue:settle/5, "all settle reasons will give credit"); before, the broker
    #: closes the connection with NOT_IMPLEMENTED (3.10.8 settle/4, recorded in
    #: tests/data/rabbitmq_stream_traces.json).
    stream_nack_gives_credit: bool


VERSIONS: dict[str, Version] = {
    "3.10": Version("3.10", None, False, True, False),
    "4.0": Version("4.0", 20, True, False, True),
    "4.1": Version("4.1", 20, True, False, True),
    "4.2": Version("4.2", 20, True, False, True),
}

DEFAULT_VERSION: VersionName = "4.2"


def behaviour(name: str) -> Version:
    """The behaviours of version `name` (one of VERSIONS)."""
    try:
        return VERSIONS[name]
    except KeyError:
        known = ", ".join(VERSIONS)
        raise ValueError(f"unknown RabbitMQ version {name!r} (known: {known})") from None
