"""What a consumer replica with a `guarantee:` section carries through its cycle: its strategy,
where its processing crashes (CrashPlan), its effect step (EffectStep), and how long it takes
to come back after a crash.

The cycle (sim/consumers/cycle.py) asks it at each step; the broker's consumer only supplies
the native verbs (what an ack, a nack or a crash is on that system).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.guarantees.failures import CrashPlan
from sim.guarantees.strategies import EffectStep, SharedEffects

if TYPE_CHECKING:
    from sim.context import RunContext

__all__ = ["Crashed", "GuaranteeRun"]


class Crashed(Exception):
    """Raised inside a replica's cycle at a crash point (a process cannot interrupt itself)."""

    def __init__(self, kind: str, point: str, message_id: int) -> None:
        super().__init__(f"{kind} ({point})")
        self.kind = kind  # "crash", or "disconnected" when an ack was lost on the network
        self.point = point
        self.message_id = message_id  # the message in hand when it struck


class GuaranteeRun:
    """One replica's share of a consumer's guarantee."""

    def __init__(self, ctx: RunContext, shared: SharedEffects, owner: str, name: str) -> None:
        guarantee = shared.config
        self.config = guarantee
        self.shared = shared
        self.strategy = guarantee.strategy
        self.acks_first = guarantee.strategy == "at-most-once"
        self.plan = CrashPlan(guarantee, ctx.streams, owner, shared.crash_on)
        self.crashes = self.plan.active
        round_trip = guarantee.store_round_trip
        self.ideal_store = round_trip.kind == "constant" and round_trip.params[0] == 0.0
        self.round_trip = ctx.sampler(f"{owner}/guarantee/store", round_trip)
        self.step = EffectStep(
            ctx.env, shared, ctx.recorder, self.round_trip, name, ideal=self.ideal_store
        )
        self.restart_after = ctx.sampler(f"{owner}/guarantee/restart", guarantee.restart_after)
        self.journal = shared.ledger.journal

    def crash_point(self, message_id: int) -> str | None:
        return self.plan.crash_point(message_id) if self.crashes else None
