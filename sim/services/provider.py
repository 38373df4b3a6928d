"""An external provider of a notification channel (an SMS gateway, an e-mail API, a push
service): its quota, its idempotency keys, and what it delivered.

A provider is a service (sim/services/service.py) with a `provider:` section. Its worker pool
is the provider's concurrency and its service time the latency of one send; faults give it
errors and outages. This module adds what an external API has beyond that:

- a quota at its edge (`Quota`): a call over it is answered 429 with a Retry-After, without
  taking a worker (the provider's rate limiter answers before any work is done);
- idempotency keys: with `idempotency`, the message's id is the key; a key already sent is
  answered with success at once (the stored answer, replayed) and not sent again, a key being
  sent is answered 409 Conflict;
- the measures of the channel (`Deliveries`): a send is a notification delivered to a user;
  the first send of a message counts, with its end-to-end latency (from the request's
  creation), whether it met its SLA (its client's `sla`, else the channel's), and every later
  send of the same message is a duplicate the user receives. `due.<provider>` and
  `due.<provider>.<kind>` (counted by the clients, sim/services/client.py) are how many
  notifications the requests asked this channel for, in all and by kind of request.

Memory: a provider keeps the id of every message it sent (to count duplicates), as a real
provider keeps its idempotency keys; it grows with the messages sent, not with the events.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.metrics import LatencyHistogram

if TYPE_CHECKING:
    from sim.context import RunContext
    from sim.message import Message
    from sim.services.config import ProviderConfig

__all__ = ["Deliveries", "KindStats", "Quota", "provider_tables"]

SENDING = math.inf  # an idempotency key whose send is in progress


class Quota:
    """A token bucket that refuses instead of making callers wait: `rate` calls per second,
    bursts of up to `burst` (RFC 2697's committed rate and burst)."""

    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = 0.0

    def admit(self, now: float) -> float:
        """Take a token: 0.0 if one was free, else the seconds until one is due (none taken)."""
        tokens = self._tokens
        if now > self._at:
            tokens = min(self.burst, tokens + (now - self._at) * self.rate)
            self._at = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return 0.0
        self._tokens = tokens
        return (1.0 - tokens) / self.rate


class KindStats:
    """What a provider delivered for one kind of request."""

    __slots__ = ("delivered", "due_key", "latency", "sla", "within_sla")

    def __init__(self, provider: str, kind: str, sla: float) -> None:
        self.due_key = f"due.{provider}.{kind}"
        self.sla = sla
        self.delivered = 0
        self.within_sla = 0
        self.latency = LatencyHistogram(digits=2)


class Deliveries:
    """What one provider delivered, and its idempotency keys."""

    def __init__(self, ctx: RunContext, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config
        self.env = ctx.env
        self.recorder = ctx.recorder
        self.quota = Quota(config.quota, config.burst) if config.quota is not None else None
        self.idempotent = config.idempotency
        self.window = config.idempotency_window
        self.sla = math.inf if config.sla is None else config.sla  # the channel's
        self.sent_ids: set[int] = set()
        self.keys: dict[int, float] = {}  # idempotency key -> when it was sent (SENDING)
        self.latency = LatencyHistogram(digits=2)
        self.within_sla = 0
        self.due_key = f"due.{name}"
        # By kind of request: the kinds whose clients ask this channel, with their SLA.
        self.kinds: dict[str, KindStats] = {}
        for client in ctx.scenario.clients:
            if name in client.channels and client.kind is not None:
                sla = client.sla if client.sla is not None else self.sla
                self.kinds.setdefault(client.kind, KindStats(name, client.kind, sla))
        self._keys = {
            kind: f"provider.{kind}.{name}"
            for kind in ("sent", "duplicates", "deduplicated", "conflicts", "throttled")
        }
        ctx.recorder.gauge(f"undelivered.{name}", self.undelivered, "provider.undelivered")
        registered = ctx.shared.setdefault("providers", [])
        if not registered:
            for table in ("providers", "providers.kinds", "providers.latency"):
                ctx.tables[table] = lambda t=table: provider_tables(registered)[t]
        registered.append(self)

    # ----- the edge: quota and idempotency keys -----
    def throttle(self, now: float) -> float | None:
        """None if the call is within the quota, else the Retry-After to answer (seconds)."""
        quota = self.quota
        if quota is None:
            return None
        wait = quota.admit(now)
        if wait == 0.0:
            return None
        self.recorder.count(self._keys["throttled"])
        given = self.config.retry_after
        return given if given is not None else float(max(1, math.ceil(wait)))

    def key_state(self, msg: Message, now: float) -> str:
        """With idempotency keys: "sent" (answer success, send nothing), "sending" (answer
        409), or "new" (send it; the key is now being sent)."""
        sent_at = self.keys.get(msg.id)
        if sent_at is not None:
            if sent_at == SENDING:
                self.recorder.count(self._keys["conflicts"])
                return "sending"
            if now - sent_at < self.window:
                self.recorder.count(self._keys["deduplicated"])
                return "sent"
        self.keys[msg.id] = SENDING
        return "new"

    def abandon_key(self, msg: Message) -> None:
        """The send did not happen (an error, an outage): the key may be used again."""
        if self.keys.get(msg.id) == SENDING:
            del self.keys[msg.id]

    # ----- a notification goes out -----
    def sent(self, msg: Message, now: float) -> None:
        recorder = self.recorder
        recorder.count(self._keys["sent"])
        if self.idempotent:
            self.keys[msg.id] = now
        ids = self.sent_ids
        if msg.id in ids:
            recorder.count(self._keys["duplicates"])
            return
        ids.add(msg.id)
        latency = now - msg.produced_at
        self.latency.record(latency)
        stats = self.kinds.get(msg.kind)
        if stats is None:
            if latency <= self.sla:
                self.within_sla += 1
            return
        stats.delivered += 1
        stats.latency.record(latency)
        if latency <= stats.sla:
            stats.within_sla += 1
            self.within_sla += 1

    def due(self) -> int:
        return self.recorder.counters[self.due_key]

    def undelivered(self) -> int:
        """Notifications asked of this channel so far and not delivered yet."""
        return max(0, self.due() - len(self.sent_ids))

    def row(self) -> dict[str, Any]:
        counters = self.recorder.counters
        stats = _percentiles(self.latency)
        return {
            "provider": self.name,
            "due": self.due(),
            "delivered": len(self.sent_ids),
            "within_sla": self.within_sla,
            "sla": self.config.sla,
            "p50": stats["p50"],
            "p99": stats["p99"],
            "max": stats["max"],
            "duplicates": counters[self._keys["duplicates"]],
            "deduplicated": counters[self._keys["deduplicated"]],
            "conflicts": counters[self._keys["conflicts"]],
            "throttled": counters[self._keys["throttled"]],
            "errors": counters[f"errors.{self.name}"],
            "calls": counters[f"calls.{self.name}"],
        }

    def kind_rows(self) -> list[dict[str, Any]]:
        counters = self.recorder.counters
        rows = []
        for kind, stats in self.kinds.items():
            latency = _percentiles(stats.latency)
            rows.append(
                {
                    "provider": self.name,
                    "kind": kind,
                    "due": counters[stats.due_key],
                    "delivered": stats.delivered,
                    "within_sla": stats.within_sla,
                    "sla": stats.sla,
                    "p50": latency["p50"],
                    "p99": latency["p99"],
                    "max": latency["max"],
                }
            )
        return rows


def _percentiles(histogram: LatencyHistogram) -> dict[str, float]:
    """p50, p99 and max (seconds; NaN when nothing was sent): two percentile lookups, each a
    scan of the histogram's buckets."""
    empty = histogram.count == 0
    return {
        "p50": histogram.percentile(50),
        "p99": histogram.percentile(99),
        "max": math.nan if empty else histogram.max,
    }


def provider_tables(providers: list[Deliveries]) -> dict[str, pd.DataFrame]:
    """`providers` (one row per provider), `providers.kinds` (one per provider and kind of
    request) and `providers.latency`: the delivery latency CDF of each provider (kind "")
    and of each provider and kind, as a share of the notifications due (it stops below 1 by
    the share never delivered)."""
    summary = pd.DataFrame([p.row() for p in providers])
    kind_columns = ["provider", "kind", "due", "delivered", "within_sla", "sla", "p50", "p99"]
    kinds = pd.DataFrame(
        [row for p in providers for row in p.kind_rows()], columns=[*kind_columns, "max"]
    )
    frames = []
    for provider in providers:
        curves = [("", provider.latency, provider.due(), len(provider.sent_ids))]
        counters = provider.recorder.counters
        curves += [
            (kind, stats.latency, counters[stats.due_key], stats.delivered)
            for kind, stats in provider.kinds.items()
        ]
        for kind, histogram, due, delivered in curves:
            values, fraction = histogram.cdf()
            share = fraction * (delivered / due) if due else fraction * 0.0
            frames.append(
                pd.DataFrame(
                    {
                        "provider": provider.name,
                        "kind": kind,
                        "latency": values,
                        "delivered": share,
                    }
                )
            )
    columns = ["provider", "kind", "latency", "delivered"]
    latency = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return {"providers": summary, "providers.kinds": kinds, "providers.latency": latency}
