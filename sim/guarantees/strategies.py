"""The consumer-side strategies: when the side effect is applied, and how duplicates of it are
recognised.

A strategy is the effect step of a consumer's cycle (receive, process, effect, acknowledge);
when the acknowledgement goes relative to it is the consumer's business (at-most-once
acknowledges first, every other strategy after the effect is durable). Each step talks to the
store that holds the effect; its statements cost one store round trip each:

- at-most-once, at-least-once: the effect (1 round trip).
- idempotent: look the id up in the dedup store, apply the effect, record the id (3). The
  lookup and the record are separate writes, so a crash between the effect and the record
  leaves an applied effect with no record: its redelivery applies it again.
- transactional: insert the id into the inbox table and apply the effect in one transaction,
  then commit (3: insert, effect, commit; BEGIN travels with the insert). Atomic: a duplicate's
  insert conflicts with the committed id and the transaction rolls back. This is the
  transactional inbox (Richardson, microservices.io/patterns/data/transactional-outbox.html,
  and its inbox counterpart); Kafka's read-process-write transactions give the same atomicity
  inside Kafka (sim/guarantees/kafka.py).

Both dedup variants forget ids after the window, so a duplicate later than that is applied.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.guarantees.dedup import DedupStore
from sim.guarantees.ledger import EffectLedger

if TYPE_CHECKING:
    from sim.distributions import Sampler
    from sim.guarantees.config import GuaranteeConfig
    from sim.metrics import Recorder

__all__ = ["ROUND_TRIPS", "EffectStep", "SharedEffects"]

#: Store round trips per processing, by strategy (see the module docstring).
ROUND_TRIPS = {
    "at-most-once": 1,
    "at-least-once": 1,
    "idempotent": 3,
    "transactional": 3,
    # Per transaction (one per poll batch), not per record: the blocking calls
    # AddOffsetsToTxn, TxnOffsetCommit (sendOffsetsToTransaction) and EndTxn (commitTransaction
    # waits for its answer); the output records go out batched with the producer's sends.
    "kafka-transactions": 3,
}


class SharedEffects:
    """What the replicas of one consumer share: the ledger their effects go to, the dedup
    store (or inbox table) of its strategy, and the message ids still to crash on."""

    def __init__(self, config: GuaranteeConfig, ledger: EffectLedger) -> None:
        self.config = config
        self.ledger = ledger
        deduplicates = config.strategy in ("idempotent", "transactional")
        self.dedup = DedupStore(config.window) if deduplicates else None
        self.crash_on: set[int] = set(config.crash_on)


class EffectStep:
    """One replica's effect step. `run(message_id, crash_in_gap)` is a SimPy sub-generator
    (`ok = yield from step.run(...)`); it returns False when the replica crashed in the
    idempotent consumer's gap between the effect and the dedup record."""

    def __init__(
        self,
        env: simpy.Environment,
        shared: SharedEffects,
        recorder: Recorder,
        round_trip: Sampler,
        component: str,
        ideal: bool,
    ) -> None:
        self.env = env
        self.shared = shared
        self.strategy = shared.config.strategy
        self.recorder = recorder
        self.component = component
        self._round_trip = round_trip
        self._ideal = ideal  # a zero round trip: no timeouts at all

    def _note(self, message_id: int, event: str, applications: int) -> None:
        journal = self.shared.ledger.journal
        if journal is not None:
            journal.append((self.env.now, message_id, event, self.component, applications))

    def apply_now(self, message_id: int) -> None:
        """Apply the effect of `message_id` at once (an effect whose timing the caller owns,
        such as the outputs of a Kafka transaction becoming visible)."""
        self._apply(message_id)

    def _apply(self, message_id: int) -> None:
        applications = self.shared.ledger.apply(message_id)
        self.recorder.count("effects_applied")
        self._note(message_id, "effect applied", applications)

    def _suppress(self, message_id: int) -> None:
        self.recorder.count("effects_suppressed")
        self._note(message_id, "effect suppressed", self.shared.ledger.applications(message_id))

    def _trips(self, count: int) -> simpy.Timeout:
        draw = self._round_trip
        return self.env.timeout(sum(draw() for _ in range(count)))

    def run(self, message_id: int, crash_in_gap: bool = False) -> Generator[Any, Any, bool]:
        ideal, dedup = self._ideal, self.shared.dedup
        if self.strategy == "idempotent":
            assert dedup is not None
            if not ideal:
                yield self._trips(1)  # GET id
            if dedup.seen(message_id, self.env.now):
                self._suppress(message_id)
                return True
            if not ideal:
                yield self._trips(1)  # the effect
            self._apply(message_id)
            if crash_in_gap:
                return False
            if not ideal:
                yield self._trips(1)  # SET id EX window
            dedup.record(message_id, self.env.now)
            return True
        if self.strategy == "transactional":
            assert dedup is not None
            if not ideal:
                yield self._trips(ROUND_TRIPS["transactional"])  # INSERT inbox, effect, COMMIT
            # The commit is atomic: the id and the effect land together, or neither does.
            if dedup.seen(message_id, self.env.now):
                self._suppress(message_id)
            else:
                self._apply(message_id)
                dedup.record(message_id, self.env.now)
            return True
        if not ideal:
            yield self._trips(1)
        self._apply(message_id)
        return True
