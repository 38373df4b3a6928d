"""Wiring a run's delivery-guarantee parts: the effect ledger, what each guaranteed consumer
shares between its replicas, and what the run reports at its end.

A run has a ledger when any consumer has a `guarantee:` section. Every message id the run hands
out is then issued in the ledger, so a message whose effect was never applied counts as lost
(`effects_lost`). That is counted when the run ends: a scenario should stop producing before
its end (a producer's `stop:`) and leave the consumers time to drain, or messages still queued
count as lost too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from sim.guarantees.ledger import EffectLedger
from sim.guarantees.strategies import SharedEffects

if TYPE_CHECKING:
    from sim.context import RunContext

__all__ = ["JOURNAL_COLUMNS", "attach"]

JOURNAL_COLUMNS = ["time", "message_id", "event", "component", "applications"]


def attach(ctx: RunContext) -> dict[str, SharedEffects] | None:
    """Set up the ledger if the scenario has guaranteed consumers: {consumer name: what its
    replicas share}, or None. Call before anything takes a message id."""
    guaranteed = [c for c in ctx.scenario.consumers if c.guarantee is not None]
    if not guaranteed:
        return None
    ledger = EffectLedger()
    ctx.message_ids = ledger.issuing(ctx.message_ids)
    if ctx.recorder.trace is not None:
        ledger.journal = []
    shared = {c.name: SharedEffects(c.guarantee, ledger) for c in guaranteed}  # type: ignore[arg-type]
    recorder = ctx.recorder

    def ledger_table() -> pd.DataFrame:
        # Built once, at the run's end: the outcome counts join the summary from here.
        for key, value in ledger.outcomes().items():
            recorder.count(key, value)
        for key in ("effects_applied", "effects_suppressed", "crashes"):
            recorder.count(key, 0)  # present even when zero: sweeps average over every run
        return ledger.table()

    ctx.tables["guarantees.ledger"] = ledger_table
    if ledger.journal is not None:
        journal = ledger.journal
        ctx.tables["guarantees.journal"] = lambda: pd.DataFrame(journal, columns=JOURNAL_COLUMNS)
    return shared
