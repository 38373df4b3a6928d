"""Apache Pulsar's cost model in closed form: the stages a published message's work waits at,
for the calibrated presets (sim/presets/, tools/calibrate.py) and `mqsim omb`'s capacity.

The simulated broker charges the same stages when its section has a `cost:` field
(sim/brokers/pulsar/charges.py); this module states them as numbers, for the calibration and
the notebooks through the spec (`COSTS`). The mechanisms (Pulsar 2.6 as Confluent and mqperf
ran it; names are ServiceConfiguration's and BookKeeper's ServerConfiguration's):

- Broker dispatch. A topic partition is owned by one broker; its broker hands each entry to
  BookKeeper and dispatches it to each subscription on its IO threads (`numIOThreads`, twice
  the cores by default): `dispatch` seconds of broker thread time per entry and subscription,
  and `ack` per entry a subscription acknowledges, shared by `io_threads` threads.
- The managed ledger. Appends to one partition's ledger run in order on one thread of the
  ordered executor (`managedLedgerNumWorkerThreads`, a thread chosen by the ledger's name):
  `ledger_entry` per entry, one serial stage per partition. Producer batching
  (`batchingMaxPublishDelay`, 1 ms; mqperf's sends of 1-10 messages) puts `load.batch`
  messages in one entry.
- BookKeeper. Each entry is written to Qw bookies of an ensemble of E (striped round-robin,
  so each bookie gets Qw/E of the entries of a ledger spread over all bookies) and
  acknowledged once Qa have it. A bookie appends every entry to its journal, one thread
  writing sequentially (`per_byte` of journal time per byte), and fsyncs it in groups every
  `journalMaxGroupWaitMSec` (`journal_group_wait`; `journalSyncData=true`): an entry waits
  for its group's fsync (`journal_fsync`) before the bookie answers.

A publish's no-queueing latency is its batching wait (half the publish delay on average), its
entry's ledger append and journal write, half a journal group wait (a group is flushed when
its oldest entry has waited the whole group wait) and one fsync (the Qa-th fastest of Qw equal
bookies); a consumer gets the message one dispatch later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from sim.brokers.costs import Account, CostModelSpec, Load, Stage
from sim.fieldtypes import Duration, StrictModel
from sim.presets import PresetCost

if TYPE_CHECKING:
    from sim.brokers.pulsar.config import PulsarConfig

__all__ = ["COSTS", "PulsarCost", "Topology", "account", "calibration_section", "section_account"]

ENTRY_OVERHEAD = 0  # bytes a BookKeeper entry adds; not modelled separately from per_byte


class PulsarCost(PresetCost):
    """Pulsar's cost parameters (see the module docstring); a preset fills them."""

    SYSTEM: ClassVar[str] = "pulsar"
    dispatch: Duration = 0.0  # per entry and subscription; no published row separates it
    ack: Duration = 0.0  # per entry acknowledged; no published row separates it
    io_threads: int = Field(default=16, ge=1)  # numIOThreads: 2 x 8 cores
    ledger_entry: Duration = 0.0
    per_byte: Duration = 0.0
    journal_fsync: Duration = 0.0
    journal_group_wait: Duration = 0.002  # journalMaxGroupWaitMSec=2, BookKeeper's default


class Topology(StrictModel):
    """The cluster a Pulsar load runs on: brokers, bookies, the ledger quorums
    (managedLedgerDefaultEnsembleSize, ...WriteQuorum, ...AckQuorum) and the producers'
    batchingMaxPublishDelay."""

    brokers: int = Field(default=1, ge=1)
    bookies: int = Field(default=1, ge=1)
    ensemble_size: int = Field(default=1, ge=1)
    write_quorum: int = Field(default=1, ge=1)
    ack_quorum: int = Field(default=1, ge=1)
    batching_delay: Duration = 0.001  # batchingMaxPublishDelay, 1 ms (ProducerConfigurationData)

    @model_validator(mode="after")
    def _quorums(self) -> Topology:
        if not self.ack_quorum <= self.write_quorum <= self.ensemble_size <= self.bookies:
            raise ValueError("needs ack quorum <= write quorum <= ensemble size <= bookies")
        return self


def account(cost: PulsarCost, topology: Topology, load: Load) -> Account:
    """The stages of `load` over `load.partitions` partitions of one topic."""
    partitions = load.partitions
    owned = math.ceil(partitions / topology.brokers) / partitions  # the busiest broker's share
    entry = cost.ledger_entry / load.batch
    stored = topology.write_quorum / topology.bookies  # a bookie's share of the entries
    per_entry = (cost.dispatch + cost.ack) * load.subscriptions / load.batch
    entry_bytes = load.batch * (load.message_size + ENTRY_OVERHEAD)
    stages = (
        Stage("broker IO threads", cost.io_threads, owned * per_entry),
        Stage("managed ledger (per partition)", 1, entry / partitions),
        Stage("bookie journal", 1, stored * cost.per_byte * (load.message_size + ENTRY_OVERHEAD)),
    )
    latency = (
        topology.batching_delay / 2
        + cost.ledger_entry
        + cost.per_byte * entry_bytes
        + cost.journal_group_wait / 2
        + cost.journal_fsync
    )
    return Account(stages, latency)


#: The Topology fields a Pulsar section holds under its own names (sim/brokers/pulsar/config.py).
SECTION_FIELDS = {
    "brokers": "brokers",
    "bookies": "bookies",
    "ensemble_size": "managedLedgerDefaultEnsembleSize",
    "write_quorum": "managedLedgerDefaultWriteQuorum",
    "ack_quorum": "managedLedgerDefaultAckQuorum",
}


def calibration_section(part: Mapping[str, Mapping[str, Any]], setup: Mapping[str, Any]) -> dict:
    """A cluster of the part's brokers, bookies and quorums with one topic `t` (setup key
    `partitions`); the producers' batching delay is a producer setting, not the section's."""
    broker = part.get("broker", {})
    fields = {alias: broker[name] for name, alias in SECTION_FIELDS.items() if name in broker}
    topic = {"name": "t", "partitions": setup.get("partitions", 0)}
    return {"type": "pulsar", **fields, "topics": [topic], "cost": dict(part["cost"])}


def section_account(config: PulsarConfig, load: Load, batching_delay: float = 0.001) -> Account:
    """The account of `load` on a validated section's cluster (its first, with `clusters`)
    and costs; `batching_delay` is the producers' batchingMaxPublishDelay."""
    if config.cost is None:
        return Account(notes=("the ideal broker: no costs",))
    cluster = config.cluster_list()[0]
    topology = Topology(
        brokers=cluster.brokers,
        bookies=cluster.bookies,
        ensemble_size=config.ensemble_size,
        write_quorum=config.write_quorum,
        ack_quorum=config.ack_quorum,
        batching_delay=batching_delay,
    )
    return account(config.cost, topology, load)


def _account(config: Any, part: Mapping[str, Mapping[str, Any]], load: Load) -> Account:
    return section_account(config, load, part.get("broker", {}).get("batching_delay", 0.001))


COSTS = CostModelSpec(
    published="pulsar",
    section=calibration_section,
    account=lambda config, part, load, setup: _account(config, part, load),
)
