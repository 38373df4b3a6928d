"""BookKeeper under a Pulsar cluster: bookies, ledger ensembles, quorum writes, ensemble changes.

The rules of the BookKeeper client the broker embeds (``org.apache.bookkeeper.client``; Pulsar
4.0.0 ships BookKeeper 4.17), with Pulsar's quorum settings (``ServiceConfiguration``
``managedLedgerDefaultEnsembleSize`` E, ``managedLedgerDefaultWriteQuorum`` Qw,
``managedLedgerDefaultAckQuorum`` Qa, all 2 by default):

- A new ledger gets an *ensemble* of E distinct bookies (``EnsemblePlacementPolicy.newEnsemble``;
  without racks the rack-aware default policy picks at random among the writable bookies).
  With fewer than E bookies up, the ledger cannot be created (``BKNotEnoughBookiesException``).
- Entry e of a ledger is written to Qw bookies of the ensemble, striped round-robin
  (``RoundRobinDistributionSchedule``: ensemble positions e, e+1, ..., e+Qw-1 modulo E), and is
  confirmed once Qa of them have acknowledged it (``PendingAddOp``). Confirmations complete in
  entry order (``LedgerHandle.sendAddSuccessCallbacks``): an entry is confirmed no earlier than
  the one before it.
- A write to a bookie that is down fails; the client replaces that bookie in the ensemble by one
  not in it (``LedgerHandle.handleBookieFailure`` -> ``ensembleChangeLoop``, ``replaceBookie``),
  which starts a new *fragment* of the ledger from that entry on. With no bookie to replace it,
  the add fails (``handleUnrecoverableErrorDuringAdd``) and so does every later one, until the
  broker's managed ledger creates a new ledger on enough bookies.

Bookies are passive (no process each); a write's latency is the Qa-th fastest of Qw draws of
`bookie_write_latency`, drawn from the cluster's own random stream. With a cost model
(sim/brokers/pulsar/charges.py) each bookie of the entry's write set first journals and fsyncs
it, and its answer then takes its draw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.distributions import Sampler
from sim.faults import CrashOnly

if TYPE_CHECKING:
    from sim.brokers.pulsar.charges import ClusterCharges
    from sim.metrics import Recorder

__all__ = ["BookKeeperCluster", "Bookie", "LedgerWriter"]


class Bookie(CrashOnly):
    """One bookie, a crash-only fault target (`bookie.N`). It keeps its data across a crash
    (its journal and ledger directories are on disk): it only stops taking writes."""

    def __init__(self, cluster: BookKeeperCluster, index: int, name: str) -> None:
        self.cluster = cluster
        self.index = index
        self.name = name
        self.alive = True

    def crash(self) -> None:
        if self.alive:
            self.alive = False
            self.cluster.bookie_changed()

    def restart(self) -> None:
        if not self.alive:
            self.alive = True
            self.cluster.bookie_changed()


class BookKeeperCluster:
    """The bookies of one Pulsar cluster and the quorum settings ledgers are created with."""

    def __init__(
        self,
        names: list[str],
        ensemble_size: int,
        write_quorum: int,
        ack_quorum: int,
        latency: Sampler,
        latency_is_zero: bool,
        rng: np.random.Generator,
        recorder: Recorder | None = None,
    ) -> None:
        if not ack_quorum <= write_quorum <= ensemble_size:
            raise ValueError("BookKeeper needs ackQuorum <= writeQuorum <= ensembleSize")
        self.bookies = [Bookie(self, i, name) for i, name in enumerate(names)]
        self.ensemble_size = ensemble_size
        self.write_quorum = write_quorum
        self.ack_quorum = ack_quorum
        self._latency = latency
        self.zero_latency = latency_is_zero
        self._rng = rng
        self.recorder = recorder
        self.version = 0  # bumped when a bookie goes down or comes back
        self._alive: tuple[int, list[int]] | None = None  # (version, the bookies up)
        self.listeners: list[Callable[[], None]] = []  # told when bookies come back
        self.charges: ClusterCharges | None = None  # the cost model's stages (None: ideal)

    def alive(self) -> list[int]:
        # Speed: the list is kept until a bookie goes down or comes back (`version`): every
        # partition's ledger asks it when it opens. Callers only read it.
        cached = self._alive
        if cached is None or cached[0] != self.version:
            cached = self._alive = (self.version, [b.index for b in self.bookies if b.alive])
        return cached[1]

    def bookie_changed(self) -> None:
        self.version += 1
        for listener in list(self.listeners):
            listener()

    def new_ensemble(self) -> list[int] | None:
        """E distinct writable bookies at random, or None when fewer are up."""
        up = self.alive()
        if len(up) < self.ensemble_size:
            return None
        chosen = self._rng.choice(len(up), size=self.ensemble_size, replace=False)
        return [up[int(i)] for i in chosen]

    def replacement(self, ensemble: list[int]) -> int | None:
        """A writable bookie outside `ensemble` (``replaceBookie``), or None."""
        spare = [b for b in self.alive() if b not in ensemble]
        if not spare:
            return None
        return spare[int(self._rng.integers(len(spare)))]

    def ack_delay(self) -> float:
        """The time until Qa of Qw bookies have the entry: the Qa-th fastest write."""
        draws = sorted(self._latency() for _ in range(self.write_quorum))
        return draws[self.ack_quorum - 1]

    def charged_confirm(self, ensemble: list[int], entry_id: int, at: float, size: int) -> float:
        """With a cost model: when Qa of the entry's write set (``RoundRobinDistributionSchedule``:
        ensemble positions entry_id .. entry_id + Qw - 1 modulo E) have journaled and fsynced
        an entry of `size` bytes sent to them at `at`, and answered."""
        assert self.charges is not None
        journals = self.charges.journals
        width = len(ensemble)
        answers = []
        for k in range(self.write_quorum):
            answer = journals[ensemble[(entry_id + k) % width]].add(at, size)
            answers.append(answer if self.zero_latency else answer + self._latency())
        answers.sort()
        return answers[self.ack_quorum - 1]


class LedgerWriter:
    """The write side of one ledger (``LedgerHandle``): its ensemble, fragments and the FIFO of
    confirmations. `fragments` lists (first entry id, ensemble) as BookKeeper's ledger metadata
    does (``LedgerMetadata.getAllEnsembles``)."""

    __slots__ = ("_checked", "bk", "ensemble", "fragments", "last_confirm", "ledger_id")

    def __init__(self, bk: BookKeeperCluster, ledger_id: int, ensemble: list[int]) -> None:
        self.bk = bk
        self.ledger_id = ledger_id
        self.ensemble = ensemble
        self.fragments: list[tuple[int, list[int]]] = [(0, list(ensemble))]
        self.last_confirm = 0.0
        self._checked = bk.version  # the bookie state the ensemble was last checked against

    def write(self, entry_id: int, now: float, at: float = 0.0, size: int = 0) -> float | None:
        """Write entry `entry_id` (with a cost model: of `size` bytes, sent to the bookies at
        `at`); the time it is confirmed, or None when the add fails."""
        bk = self.bk
        if self._checked != bk.version and not self._heal(entry_id):
            return None
        if bk.charges is not None:
            confirm = bk.charged_confirm(self.ensemble, entry_id, max(at, now), size)
        else:
            confirm = now if bk.zero_latency else now + bk.ack_delay()
        if confirm < self.last_confirm:
            confirm = self.last_confirm  # adds complete in order
        self.last_confirm = confirm
        return confirm

    def _heal(self, entry_id: int) -> bool:
        """Replace the down bookies of the entry's write set (an ensemble change)."""
        bk = self.bk
        size = len(self.ensemble)
        write_set = [(entry_id + k) % size for k in range(bk.write_quorum)]
        changed = False
        for position in write_set:
            bookie = self.ensemble[position]
            if bk.bookies[bookie].alive:
                continue
            spare = bk.replacement(self.ensemble)
            if spare is None:
                return False  # BKNotEnoughBookiesException: the add fails
            self.ensemble[position] = spare
            changed = True
        if changed:
            self.fragments.append((entry_id, list(self.ensemble)))
        if all(bk.bookies[b].alive for b in self.ensemble):
            self._checked = bk.version
        return True

    def describe(self) -> dict[str, Any]:
        return {"ledger": self.ledger_id, "fragments": len(self.fragments)}
