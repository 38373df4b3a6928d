"""Delivery guarantees under failure: an effect ledger, consumer strategies (at-most-once,
at-least-once, idempotent, transactional), crashes at points of the consumer's cycle, and
duplicate publishes. The broker-specific consumers live in `sim.guarantees.rabbitmq` and
`sim.guarantees.kafka` (imported by the broker models, not here, to keep imports one-way)."""

from sim.guarantees.config import CRASH_POINTS, STRATEGIES, GuaranteeConfig
from sim.guarantees.dedup import DedupStore
from sim.guarantees.ledger import EffectLedger
from sim.guarantees.strategies import ROUND_TRIPS, EffectStep, SharedEffects

__all__ = [
    "CRASH_POINTS",
    "ROUND_TRIPS",
    "STRATEGIES",
    "DedupStore",
    "EffectLedger",
    "EffectStep",
    "GuaranteeConfig",
    "SharedEffects",
]
