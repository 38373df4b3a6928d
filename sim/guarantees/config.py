"""The scenario options of the delivery-guarantee experiments: a consumer's `guarantee:` section
and its cross-field checks.

A consumer with a `guarantee:` section applies a side effect for every message it processes,
into the run's effect ledger (sim/guarantees/ledger.py), following one strategy:

- `at-most-once`: acknowledge before processing (`ack: auto`, or a manual ack on receipt).
- `at-least-once`: apply the effect, then acknowledge.
- `idempotent`: look the message id up in a dedup store; apply the effect only if it is not
  there, then record the id (a separate write), then acknowledge. The store forgets an id
  `dedup_window` after recording it.
- `transactional`: a transactional inbox: the id and the effect are written in one
  transaction (both or neither), then the message is acknowledged. The inbox table forgets ids
  after `dedup_window` too.

Each processing crashes with `crash_probability` at one of the points of the cycle
(`crash_point`); the consumer restarts after `restart_after`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, model_validator

from sim.distributions import Distribution
from sim.fieldtypes import Dist, Duration, StrictModel

__all__ = [
    "CRASH_POINTS",
    "STRATEGIES",
    "CrashPoint",
    "GuaranteeConfig",
    "GuaranteeStrategy",
    "reference_errors",
]

GuaranteeStrategy = Literal[
    "at-most-once", "at-least-once", "idempotent", "transactional", "kafka-transactions"
]
STRATEGIES: tuple[str, ...] = GuaranteeStrategy.__args__  # type: ignore[attr-defined]

# Where in a consumer's cycle a crash strikes, in the order the cycle meets them:
#   before-processing  the message is received (and, at most once, already acknowledged)
#   during-processing  part-way through the processing time: no effect yet
#   after-effect       the effect is durable but the dedup record is not written yet (only the
#                      idempotent consumer has this gap; elsewhere it is after-processing)
#   after-processing   effect (and dedup record) written, the ack or commit not yet sent
#   after-ack          the ack is sent but the effect is not durable yet: only at-most-once
#                      acknowledges before its effect; the other strategies make the effect
#                      durable first, so a crash there costs nothing
CrashPoint = Literal[
    "before-processing", "during-processing", "after-effect", "after-processing", "after-ack"
]
CRASH_POINTS: tuple[str, ...] = CrashPoint.__args__  # type: ignore[attr-defined]


def _crash_points(value: Any) -> str | list[str]:
    """One point, or a non-empty list of points to pick from uniformly."""
    points = value if isinstance(value, list) else [value]
    if not points:
        raise ValueError("give a point or a non-empty list of points")
    for point in points:
        if point not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {point!r} (known: {', '.join(CRASH_POINTS)})")
    return list(points) if isinstance(value, list) else str(value)


#: `crash_point`: a point of the cycle, or a list of them (each crash picks one uniformly).
CrashPoints = Annotated[
    str | list[str], PlainValidator(_crash_points, json_schema_input_type=str | list[str])
]

# An hour: processed ids kept by default by the dedup store and the inbox table. Some bound is
# needed (a real table is pruned too), and this one is far longer than any redelivery delay in
# a scenario that does not set its own.
DEFAULT_DEDUP_WINDOW = 3600.0


class GuaranteeConfig(StrictModel):
    """A consumer's `guarantee:` section."""

    strategy: GuaranteeStrategy
    crash_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    crash_point: CrashPoints = "after-processing"
    # Processings of these message ids crash (their first processing only), whatever the
    # probability: a reproducible crash for small teaching runs.
    crash_on: list[int] = []
    restart_after: Dist = Distribution.constant(1.0)
    # The ack is lost on the network: the connection breaks, the broker requeues what the
    # consumer held (a TCP connection loses nothing silently), and the consumer reconnects
    # after `restart_after`.
    ack_loss_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    dedup_window: Duration | None = None  # idempotent / transactional; default one hour
    # kafka-transactions: what the downstream reader of the output topic sees (Kafka's
    # consumer setting of the same name): committed transactions only, or every record written.
    isolation_level: Literal["read_committed", "read_uncommitted"] | None = Field(
        default=None, alias="isolation.level"
    )
    # One round trip to the store that holds the effect (and the dedup ids): each strategy's
    # statements cost a number of them (sim/guarantees/strategies.py). 0: the ideal store.
    store_round_trip: Dist = Distribution.constant(0.0)

    @model_validator(mode="after")
    def _check(self) -> GuaranteeConfig:
        if self.dedup_window is not None:
            if self.strategy not in ("idempotent", "transactional"):
                raise ValueError(
                    f"dedup_window applies to idempotent and transactional, not {self.strategy}"
                )
            if self.dedup_window <= 0:
                raise ValueError("dedup_window must be positive")
        if self.isolation_level is not None and self.strategy != "kafka-transactions":
            raise ValueError("isolation.level applies to the kafka-transactions strategy only")
        if any(i < 1 for i in self.crash_on):
            raise ValueError("crash_on: message ids start at 1")
        return self

    @property
    def points(self) -> list[str]:
        return list(self.crash_point) if isinstance(self.crash_point, list) else [self.crash_point]

    @property
    def isolation(self) -> str:
        """kafka-transactions: the downstream reader's isolation level (Kafka's default for a
        consumer is read_uncommitted; exactly once needs read_committed, the default here)."""
        return self.isolation_level or "read_committed"

    @property
    def window(self) -> float:
        """How long a processed id is remembered (idempotent and transactional)."""
        return DEFAULT_DEDUP_WINDOW if self.dedup_window is None else self.dedup_window


Loc = tuple[str | int, ...]


def reference_errors(producers: list[Any], consumers: list[Any]) -> Iterator[tuple[Loc, str]]:
    """Guarantee options that do not fit the scenario's producers and consumers, as (path,
    message). What each broker supports is checked against its spec (sim/brokers/registry.py)."""
    sources = set()
    for i, consumer in enumerate(consumers):
        guarantee = consumer.guarantee
        if guarantee is None:
            continue
        sources.add(consumer.from_)
        if consumer.ack == "auto" and guarantee.strategy != "at-most-once":
            yield (
                ("consumers", i, "ack"),
                "auto-ack acknowledges on delivery, which is at-most-once: use ack: manual "
                f"with strategy {guarantee.strategy}",
            )
        if guarantee.ack_loss_probability > 0 and consumer.ack == "auto":
            yield (
                ("consumers", i, "guarantee", "ack_loss_probability"),
                "an auto-ack consumer sends no acks to lose",
            )
        if len(sources) > 1:
            yield (
                ("consumers", i, "from"),
                "consumers with a guarantee section share one effect ledger: they must read "
                f"the same source ({sorted(sources - {consumer.from_})[0]!r})",
            )
    for i, producer in enumerate(producers):
        if producer.publish_loss_probability + producer.confirm_loss_probability > 1:
            yield (
                ("producers", i, "confirm_loss_probability"),
                "publish_loss_probability + confirm_loss_probability must not exceed 1 (an "
                "attempt loses its publish or its confirm, not both)",
            )
