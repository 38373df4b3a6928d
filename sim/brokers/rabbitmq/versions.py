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

Quorum-queue message priorities (RabbitMQ docs, Quorum Queues, "Message Priorities"; the
queue refuses `x-max-priority` in every version: rabbit_quorum_queue:capabilities/0):

- 3.10: none, a quorum queue ignores a message's priority (rabbit_fifo.erl 3.10 has one FIFO).
- 4.0-4.2: two levels (rabbit_fifo_q.erl, "a weighted priority queue with only two
  priorities"): priority above 4 is high, 0-4 or none is normal (rabbit_fifo.erl
  priority_tag/1). With both levels waiting, two outs in three take the high head and the
  third the older of the two heads (`-define(WEIGHT, 2)`, next/1 when dequeue_counter is
  WEIGHT: "always favour hi priority messages when it is safe to do so"): about 2:1, not
  strict, so normal messages always make progress.
- 4.3: strict, 32 levels (rabbit_fifo_pq.erl): priority 0-31 (higher capped at 31), a message
  without one is 4 (rabbit_fifo.erl 4.3 `-define(DEFAULT_PRIORITY, 4)`, msg_priority/1);
  the highest non-empty level always goes first (4.3.0 release notes, "strict priority
  queues").
- In every version a returned message waits in the returns queue, which goes before any
  priority (rabbit_fifo.erl take_next_msg/1).

What 4.3 changed and is modelled (4.3.0 release notes; rabbit_fifo.erl and rabbit_channel.erl
at v4.3.5):

- The delivery limit counts the delivery-count, not the acquired-count: a return counts only
  when it says the delivery failed (incr_msg_headers/3). basic.reject with requeue is
  `{modify, DeliveryFailed = true, ...}` and counts; basic.nack with requeue and basic.recover
  are plain returns (`requeue`, #return{}) and do not ("Quorum queues now allow unlimited
  explicit message returns"); a channel that closes or dies returns what it held with
  DeliveryFailed = true (maybe_return_all/6, `Reason == down`). Before 4.3 every return counted
  (rabbit_fifo.erl 4.2 return_one/8 tests acquired_count). `x-delivery-count` shows the
  delivery-count from 4.3 on (absent until a failed delivery) and `x-acquired-count` every
  return; before, `x-delivery-count` was the acquired-count (rabbit_fifo_client.erl
  add_delivery_count_header/2 at v4.2.9 and v4.3.5).
- Transient (non-durable) non-exclusive queues are refused unless the operator permits the
  deprecated feature `transient_nonexcl_queues` (4.3.0 release notes, "Deprecated Features are
  Now Disabled by Default").

Streams (`x-queue-type: stream`, sim/brokers/rabbitmq/stream.py) exist in every modelled version
(they came in 3.9).

- Consumer timeouts (rabbitmq.conf `consumer_timeout`, 1800000 ms: deps/rabbit/Makefile): up
  to 4.2 the channel closes itself with PRECONDITION_FAILED at the first 60 s tick
  (`channel_tick_interval`) after its oldest unacknowledged delivery timed out, for every queue
  type (rabbit_channel.erl evaluate_consumer_timeout/1; 4.0-4.2 use the queue's own
  x-consumer-timeout first: get_queue_consumer_timeout/2). From 4.3 only quorum queues evaluate
  them: the timed-out deliveries are returned without counting as failed and the consumer is
  cancelled (4.3.0 release notes, "Consumer Timeouts are No Longer Evaluated for Classic Queues
  and Streams"; rabbit_fifo.erl `{timeout, evaluate_consumer_timeout}`).
- Delayed retry (4.3, quorum queues: x-delayed-retry-type / -min / -max): a return is held
  min(min * delivery-count, max) before redelivery (rabbit_fifo.erl should_delay0/4,
  calculate_ready_at/4); off unless set (rabbit_fifo.hrl `delayed_retry = disabled`).
- basic.get of a message never returned: 3.10 adds `x-delivery-count: 0` (recorded), 4.x no
  header (rabbit_fifo_client.erl add_delivery_count_header/2).

The default is 4.3, the current 4.x (docs/rabbitmq-4.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_VERSION", "VERSIONS", "Version", "VersionName", "behaviour"]

VersionName = Literal["3.10", "4.0", "4.1", "4.2", "4.3"]


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
    #: How a quorum queue orders messages by priority: "none" (3.10), "two_levels" (4.0-4.2,
    #: rabbit_fifo_q.erl) or "strict" (4.3, rabbit_fifo_pq.erl).
    quorum_priorities: Literal["none", "two_levels", "strict"] = "two_levels"
    #: Whether only failed deliveries count toward a quorum queue's delivery limit (4.3: the
    #: delivery-count); before 4.3 every return counts (the acquired-count).
    only_failed_returns_count: bool = False
    #: Whether a non-durable, non-exclusive queue is refused unless permitted (4.3).
    refuses_transient_queues: bool = False
    #: Who evaluates `consumer_timeout`: "channel" (3.10-4.2: rabbit_channel.erl
    #: evaluate_consumer_timeout/1 closes the channel, every queue type) or "quorum" (4.3:
    #: rabbit_fifo.erl `{timeout, evaluate_consumer_timeout}` returns the messages; classic
    #: queues and streams never time out).
    consumer_timeout_by: Literal["channel", "quorum"] = "channel"
    #: Whether a quorum queue's basic.get of a message never returned carries
    #: `x-delivery-count: 0` (3.10: rabbit_fifo_client.erl dequeue/4 defaults the count to 0;
    #: 4.x add_delivery_count_header/2 adds nothing when the header has no acquired_count).
    get_counts_from_zero: bool = False
    #: Whether quorum queues take x-delayed-retry-* (4.3: rabbit_fifo.erl should_delay0/4).
    delayed_retry: bool = False
    #: Whether a stream reader is sent whole chunks past its credit: 3.x yes (3.10.8
    #: rabbit_stream_queue.erl stream_entries/4), 4.x no (the chunk iterator of rabbitmq-server
    #: commit 8cb313d, first in v4.0.0, reads one entry per credit).
    stream_reads_whole_chunks: bool = False


VERSIONS: dict[str, Version] = {
    "3.10": Version(
        "3.10",
        None,
        False,
        True,
        False,
        quorum_priorities="none",
        get_counts_from_zero=True,
        stream_reads_whole_chunks=True,
    ),
    "4.0": Version("4.0", 20, True, False, True),
    "4.1": Version("4.1", 20, True, False, True),
    "4.2": Version("4.2", 20, True, False, True),
    "4.3": Version(
        "4.3",
        20,
        True,
        False,
        True,
        quorum_priorities="strict",
        only_failed_returns_count=True,
        refuses_transient_queues=True,
        consumer_timeout_by="quorum",
        delayed_retry=True,
    ),
}

DEFAULT_VERSION: VersionName = "4.3"


def behaviour(name: str) -> Version:
    """The behaviours of version `name` (one of VERSIONS)."""
    try:
        return VERSIONS[name]
    except KeyError:
        known = ", ".join(VERSIONS)
        raise ValueError(f"unknown RabbitMQ version {name!r} (known: {known})") from None
