"""A topic's managed ledger: entries stored in a sequence of BookKeeper ledgers, rolled over and
deleted whole.

The rules of ``ManagedLedgerImpl`` (``managed-ledger/src/main/java/org/apache/bookkeeper/mledger/
impl/ManagedLedgerImpl.java``, Pulsar 4.0.0), with the broker's settings from
``ServiceConfiguration``:

- **Rollover** (``currentLedgerIsFull``): the current ledger is full once it holds
  ``managedLedgerMaxEntriesPerLedger`` (50000) entries or ``managedLedgerMaxSizePerLedgerMbytes``
  (2048 MB), or is ``managedLedgerMaxLedgerRolloverTimeMinutes`` (240) old; but never before it
  is ``managedLedgerMinLedgerRolloverTimeMinutes`` (10) old. The check runs as an entry is added
  (that entry is the ledger's last; the next goes to a new ledger) and on a timer for an idle
  topic (``rollCurrentLedgerIfFull``, only when the ledger holds entries). The maximum age is
  stretched per managed ledger by a random 0-5 % (``getMaximumRolloverTimeMs``) so that topics
  do not all roll together: pass ``rollover_jitter`` in [0, 1) from the run's rng.
- **Deletion** (``internalTrimLedgers``): only whole ledgers go, oldest first, never the current
  one, and only those before the slowest durable cursor's mark-delete position (the ledger that
  holds it stays, unless mark-delete is its last entry). Among those, a ledger is deleted while
  the retention policy lets it go: its age since it was closed exceeds the retention time, or
  the topic would still hold at least the retention size without it; the first ledger retention
  keeps stops the walk. A limit of -1 never lets a ledger go for that reason; retention 0/0
  lets every consumed ledger go. So storage falls in steps, one ledger at a time.

Entry indexes are global per topic (0, 1, 2, ...), as in :mod:`sim.brokers.pulsar.cursor`;
:meth:`ManagedLedger.position` gives Pulsar's ``(ledgerId, entryId)``. Ledger ids here count
from 0; BookKeeper assigns its own, increasing ones. Times are seconds, passed in.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sim.brokers.pulsar.policies import RetentionPolicies

__all__ = [
    "DEFAULT_MAX_ENTRIES_PER_LEDGER",
    "DEFAULT_MAX_ROLLOVER_MINUTES",
    "DEFAULT_MAX_SIZE_PER_LEDGER_MB",
    "DEFAULT_MIN_ROLLOVER_MINUTES",
    "Ledger",
    "LedgerConfig",
    "ManagedLedger",
]

MEGABYTE: Final = 1024 * 1024
# ServiceConfiguration (pulsar-broker-common, Pulsar 4.0.0).
DEFAULT_MAX_ENTRIES_PER_LEDGER: Final = 50000  # managedLedgerMaxEntriesPerLedger
DEFAULT_MIN_ROLLOVER_MINUTES: Final = 10  # managedLedgerMinLedgerRolloverTimeMinutes
DEFAULT_MAX_ROLLOVER_MINUTES: Final = 240  # managedLedgerMaxLedgerRolloverTimeMinutes
DEFAULT_MAX_SIZE_PER_LEDGER_MB: Final = 2048  # managedLedgerMaxSizePerLedgerMbytes
_ROLLOVER_JITTER: Final = 0.05  # getMaximumRolloverTimeMs: * (1 + random * 5 / 100)


@dataclass(frozen=True, slots=True)
class LedgerConfig:
    """The rollover settings, in Pulsar's names and units."""

    managed_ledger_max_entries_per_ledger: int = DEFAULT_MAX_ENTRIES_PER_LEDGER
    managed_ledger_min_ledger_rollover_time_minutes: float = DEFAULT_MIN_ROLLOVER_MINUTES
    managed_ledger_max_ledger_rollover_time_minutes: float = DEFAULT_MAX_ROLLOVER_MINUTES
    managed_ledger_max_size_per_ledger_mbytes: float = DEFAULT_MAX_SIZE_PER_LEDGER_MB

    def __post_init__(self) -> None:
        if self.managed_ledger_max_entries_per_ledger < 1:
            raise ValueError("managedLedgerMaxEntriesPerLedger must be at least 1")
        if self.managed_ledger_min_ledger_rollover_time_minutes < 0:
            raise ValueError("managedLedgerMinLedgerRolloverTimeMinutes must be >= 0")
        if self.managed_ledger_max_ledger_rollover_time_minutes <= 0:
            raise ValueError("managedLedgerMaxLedgerRolloverTimeMinutes must be > 0")
        if self.managed_ledger_max_size_per_ledger_mbytes <= 0:
            raise ValueError("managedLedgerMaxSizePerLedgerMbytes must be > 0")


@dataclass(slots=True)
class Ledger:
    """One ledger (``LedgerInfo``): a contiguous run of the topic's entries."""

    ledger_id: int
    first_entry: int  # the topic entry index of its entry 0
    created_at: float
    entries: int = 0
    size_bytes: int = 0
    closed_at: float | None = None  # LedgerInfo.timestamp, set when the ledger is closed

    @property
    def last_entry(self) -> int:
        """The topic index of its last entry (``first_entry - 1`` while empty)."""
        return self.first_entry + self.entries - 1


class ManagedLedger:
    """A topic's ledgers: appends, rollover and whole-ledger deletion (``ManagedLedgerImpl``)."""

    def __init__(
        self,
        config: LedgerConfig | None = None,
        now: float = 0.0,
        rollover_jitter: float | Callable[[], float] = 0.0,
    ) -> None:
        self.config = config or LedgerConfig()
        self.min_rollover_seconds = self.config.managed_ledger_min_ledger_rollover_time_minutes * 60
        base = self.config.managed_ledger_max_ledger_rollover_time_minutes * 60
        self._base_rollover_seconds = base
        # Speed: the jitter may be given as a draw to make when first needed. The stretched
        # maximum is never below `base`, so until a ledger is `base` old the draw cannot
        # matter; most ledgers of a short run never are, and a topic of 10,000 partitions
        # then makes no random stream per partition at set-up.
        self._draw: Callable[[], float] | None = None
        self._max_rollover = base
        if callable(rollover_jitter):
            self._draw = rollover_jitter
        else:
            self._stretch(rollover_jitter)
        self.max_size_bytes = self.config.managed_ledger_max_size_per_ledger_mbytes * MEGABYTE
        self.ledgers: list[Ledger] = [Ledger(0, 0, now)]
        self._firsts: list[int] = [0]  # first_entry of each ledger, for bisect
        self.next_entry = 0  # index the next added entry gets
        self.total_size_bytes = 0  # TOTAL_SIZE_UPDATER: every ledger not yet deleted
        self.total_entries = 0

    def _stretch(self, jitter: float) -> None:
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"rollover_jitter is a uniform draw in [0, 1), got {jitter}")
        self._max_rollover = self._base_rollover_seconds * (1 + jitter * _ROLLOVER_JITTER)

    @property
    def max_rollover_seconds(self) -> float:
        """The maximum age of a ledger, stretched by the jitter (``getMaximumRolloverTimeMs``)."""
        draw = self._draw
        if draw is not None:
            self._draw = None
            self._stretch(draw())
        return self._max_rollover

    @property
    def current(self) -> Ledger:
        """The ledger being written to."""
        return self.ledgers[-1]

    @property
    def last_entry(self) -> int:
        """The last written entry index (-1 before the first)."""
        return self.next_entry - 1

    @property
    def first_available_entry(self) -> int:
        """The oldest entry still stored (the first entry of the oldest remaining ledger)."""
        return self.ledgers[0].first_entry

    def add_entry(self, size_bytes: int, now: float) -> int:
        """Append an entry; returns its index. Rolls over if the ledger is full after it."""
        if size_bytes < 0:
            raise ValueError(f"entry size must be >= 0, got {size_bytes}")
        ledger = self.ledgers[-1]  # Speed: `current` inlined here and in is_full (per entry)
        ledger.entries += 1
        ledger.size_bytes += size_bytes
        self.total_size_bytes += size_bytes
        self.total_entries += 1
        entry = self.next_entry
        self.next_entry += 1
        # Speed: `is_full`'s first test made here: below every bound the ledger is not full,
        # and no call is made (an entry a message).
        if (
            ledger.entries < self.config.managed_ledger_max_entries_per_ledger
            and ledger.size_bytes < self.max_size_bytes
            and now - ledger.created_at < self._max_rollover
        ):
            return entry
        if self.is_full(now):
            self._roll(now)
        return entry

    def is_full(self, now: float) -> bool:
        """``currentLedgerIsFull`` at ``now``."""
        ledger = self.ledgers[-1]
        space_reached = (
            ledger.entries >= self.config.managed_ledger_max_entries_per_ledger
            or ledger.size_bytes >= self.max_size_bytes
        )
        age = now - ledger.created_at
        # `_max_rollover` is a lower bound of the stretched maximum while the jitter is not
        # drawn yet: below it the ledger is not old enough either way.
        if not (space_reached or age >= self._max_rollover):
            return False
        if not space_reached and self._draw is not None and age < self.max_rollover_seconds:
            return False
        return age > self.min_rollover_seconds if self.min_rollover_seconds > 0 else True

    def roll_if_full(self, now: float) -> bool:
        """``rollCurrentLedgerIfFull``, the periodic check: roll a non-empty full ledger."""
        if self.current.entries > 0 and self.is_full(now):
            self._roll(now)
            return True
        return False

    def close_current(self, now: float) -> bool:
        """Close the current ledger and start a new one, if it holds entries (a failed add or
        a topic recovered by another broker: ``ManagedLedgerImpl.ledgerClosed``, and on
        recovery the last ledger is closed and a new one opened). True if it rolled."""
        if self.current.entries == 0:
            self.current.created_at = now
            return False
        self._roll(now)
        return True

    def _roll(self, now: float) -> None:
        self.current.closed_at = now
        self.ledgers.append(Ledger(self.current.ledger_id + 1, self.next_entry, now))
        self._firsts.append(self.next_entry)

    def ledger_of(self, entry: int) -> Ledger:
        """The stored ledger that holds `entry` (the current one for an index past the end, the
        oldest stored one for an index already deleted)."""
        return self.ledgers[max(0, bisect_right(self._firsts, entry) - 1)]

    def position(self, entry: int) -> tuple[int, int]:
        """Pulsar's ``(ledgerId, entryId)`` of a stored entry index."""
        if not self.first_available_entry <= entry <= self.last_entry:
            raise ValueError(
                f"entry {entry} is not stored (stored: {self.first_available_entry}.."
                f"{self.last_entry})"
            )
        ledger = self.ledgers[bisect_right(self._firsts, entry) - 1]
        return ledger.ledger_id, entry - ledger.first_entry

    def deletable_ledgers(
        self, slowest_mark_delete: int | None, retention: RetentionPolicies, now: float
    ) -> list[Ledger]:
        """``internalTrimLedgers``: the oldest ledgers that may go now, in order.

        ``slowest_mark_delete`` is the smallest mark-delete position over the topic's durable
        cursors (subscriptions), or ``None`` when there are none, in which case only retention
        holds data back.
        """
        current = self.current
        if slowest_mark_delete is None:
            slowest_ledger = current.ledger_id + 1
        else:
            index = max(0, bisect_right(self._firsts, slowest_mark_delete) - 1)
            holder = self.ledgers[index]
            slowest_ledger = holder.ledger_id
            if (
                holder is not current
                and holder.entries > 0
                and slowest_mark_delete == holder.last_entry
            ):
                slowest_ledger += 1  # its last entry is acked: the whole ledger is consumed
        retention_time = retention.time_seconds
        retention_size = retention.size_bytes
        deletable: list[Ledger] = []
        size_to_delete = 0
        for ledger in self.ledgers:
            if ledger.ledger_id >= slowest_ledger or ledger is current:
                break
            size_to_delete += ledger.size_bytes
            over_size = (
                retention_size is not None
                and self.total_size_bytes - size_to_delete >= retention_size
            )
            closed_at = ledger.closed_at if ledger.closed_at is not None else now
            expired = retention_time is not None and now - closed_at > retention_time
            if not (expired or over_size):
                break  # retention keeps this one, and so everything newer
            deletable.append(ledger)
        return deletable

    def trim(
        self, slowest_mark_delete: int | None, retention: RetentionPolicies, now: float
    ) -> list[Ledger]:
        """Delete :meth:`deletable_ledgers` and return them (the retention check's work)."""
        deletable = self.deletable_ledgers(slowest_mark_delete, retention, now)
        if deletable:
            count = len(deletable)
            del self.ledgers[:count]
            del self._firsts[:count]
            for ledger in deletable:
                self.total_size_bytes -= ledger.size_bytes
                self.total_entries -= ledger.entries
        return deletable
