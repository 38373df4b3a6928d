"""The managed ledger: rollover by entries, size and age, and whole-ledger deletion."""

from __future__ import annotations

import pytest

from sim.brokers.pulsar.ledgers import LedgerConfig, ManagedLedger
from sim.brokers.pulsar.policies import RetentionPolicies

NO_RETENTION = RetentionPolicies(0, 0)
MINUTE = 60.0


def _ledger(max_entries: int = 3, min_minutes: float = 0, **kw: float) -> ManagedLedger:
    return ManagedLedger(
        LedgerConfig(
            managed_ledger_max_entries_per_ledger=max_entries,
            managed_ledger_min_ledger_rollover_time_minutes=min_minutes,
            **kw,  # type: ignore[arg-type]
        )
    )


def test_defaults_are_pulsars() -> None:
    config = LedgerConfig()
    assert config.managed_ledger_max_entries_per_ledger == 50000
    assert config.managed_ledger_min_ledger_rollover_time_minutes == 10
    assert config.managed_ledger_max_ledger_rollover_time_minutes == 240
    assert config.managed_ledger_max_size_per_ledger_mbytes == 2048


def test_rollover_by_entries_keeps_the_full_ledgers_entries_together() -> None:
    ml = _ledger(max_entries=3)
    entries = [ml.add_entry(10, now=float(i)) for i in range(7)]
    assert entries == list(range(7))
    assert [(led.ledger_id, led.first_entry, led.entries) for led in ml.ledgers] == [
        (0, 0, 3),
        (1, 3, 3),
        (2, 6, 1),
    ]
    assert ml.ledgers[0].closed_at == 2.0  # closed as its third entry was added
    assert [ml.position(e) for e in (0, 2, 3, 6)] == [(0, 0), (0, 2), (1, 0), (2, 0)]
    assert ml.total_entries == 7 and ml.total_size_bytes == 70


def test_minimum_rollover_time_holds_a_full_ledger_open() -> None:
    ml = _ledger(max_entries=2, min_minutes=10)
    for i in range(5):
        ml.add_entry(1, now=i * MINUTE)  # full after 2 entries, but only 4 minutes old
    assert len(ml.ledgers) == 1
    ml.add_entry(1, now=10 * MINUTE)  # not strictly older than 10 minutes yet
    assert len(ml.ledgers) == 1
    ml.add_entry(1, now=10 * MINUTE + 1)
    assert len(ml.ledgers) == 2 and ml.ledgers[0].entries == 7


def test_rollover_by_size_and_by_age() -> None:
    ml = _ledger(max_entries=10**6, managed_ledger_max_size_per_ledger_mbytes=1)
    ml.add_entry(600 * 1024, now=0.0)
    assert len(ml.ledgers) == 1
    ml.add_entry(600 * 1024, now=1.0)  # 1.2 MB >= 1 MB
    assert len(ml.ledgers) == 2
    aged = _ledger(max_entries=10**6, managed_ledger_max_ledger_rollover_time_minutes=240)
    aged.add_entry(1, now=0.0)
    assert not aged.roll_if_full(now=240 * MINUTE - 1)
    assert aged.roll_if_full(now=240 * MINUTE)  # the periodic check rolls an idle ledger
    assert not aged.roll_if_full(now=480 * MINUTE)  # the new ledger is empty: left alone


def test_rollover_jitter_stretches_the_maximum_age_up_to_5_percent() -> None:
    config = LedgerConfig(managed_ledger_max_ledger_rollover_time_minutes=100)
    assert ManagedLedger(config, rollover_jitter=0.0).max_rollover_seconds == 6000.0
    assert ManagedLedger(config, rollover_jitter=0.5).max_rollover_seconds == pytest.approx(6150.0)
    with pytest.raises(ValueError):
        ManagedLedger(config, rollover_jitter=1.0)


def _three_full_ledgers() -> ManagedLedger:
    ml = _ledger(max_entries=3)
    for i in range(9):
        ml.add_entry(100, now=float(i))  # ledgers [0-2], [3-5], [6-8] closed at 2, 5, 8
    assert len(ml.ledgers) == 4  # plus the empty current ledger
    return ml


def test_no_retention_deletes_whole_consumed_ledgers_only() -> None:
    ml = _three_full_ledgers()
    # Mark-delete inside ledger 1: ledger 0 is consumed, ledger 1 is not.
    assert [led.ledger_id for led in ml.deletable_ledgers(4, NO_RETENTION, now=9.0)] == [0]
    # Mark-delete on the last entry of ledger 1: ledger 1 goes too.
    assert [led.ledger_id for led in ml.deletable_ledgers(5, NO_RETENTION, now=9.0)] == [0, 1]
    # Nothing acked: nothing deletable.
    assert ml.deletable_ledgers(-1, NO_RETENTION, now=9.0) == []


def test_storage_falls_in_steps() -> None:
    ml = _three_full_ledgers()
    sizes = []
    for mark_delete in range(9):
        ml.trim(mark_delete, NO_RETENTION, now=9.0)
        sizes.append(ml.total_size_bytes)
    # Acking entry by entry frees nothing until a ledger's last entry is acked.
    assert sizes == [900, 900, 600, 600, 600, 300, 300, 300, 0]
    assert ml.first_available_entry == 9
    with pytest.raises(ValueError, match="not stored"):
        ml.position(0)


def test_the_current_ledger_is_never_deleted() -> None:
    ml = _ledger(max_entries=100)
    for i in range(5):
        ml.add_entry(1, now=float(i))
    assert ml.deletable_ledgers(4, NO_RETENTION, now=100.0) == []
    assert ml.deletable_ledgers(None, NO_RETENTION, now=100.0) == []


def test_time_retention_keeps_consumed_ledgers_until_old_enough() -> None:
    ml = _three_full_ledgers()
    retention = RetentionPolicies(1, -1)  # 1 minute, no size limit
    assert ml.deletable_ledgers(8, retention, now=60.0) == []
    assert [led.ledger_id for led in ml.deletable_ledgers(8, retention, now=62.5)] == [0]
    assert [led.ledger_id for led in ml.deletable_ledgers(8, retention, now=65.5)] == [0, 1]
    # Retention never deletes what a subscription has not consumed.
    assert [led.ledger_id for led in ml.deletable_ledgers(2, retention, now=1e6)] == [0]


def test_size_retention_keeps_at_least_the_quota() -> None:
    ml = _three_full_ledgers()  # 900 bytes in three ledgers of 300
    retention = RetentionPolicies(-1, 1)  # no time limit, 1 MB
    assert ml.deletable_ledgers(8, retention, now=1e6) == []  # 900 B < 1 MB: all kept
    big = _ledger(max_entries=1)
    for i in range(4):
        big.add_entry(512 * 1024, now=float(i))  # four ledgers of 0.5 MB
    deletable = big.deletable_ledgers(3, retention, now=1e6)
    # Deleting the first two still leaves 1 MB; deleting a third would leave less.
    assert [led.ledger_id for led in deletable] == [0, 1]


def test_infinite_retention_and_no_subscriptions() -> None:
    ml = _three_full_ledgers()
    assert ml.deletable_ledgers(8, RetentionPolicies(-1, -1), now=1e9) == []
    # Without durable cursors only retention holds data: with none, every closed ledger goes.
    assert [led.ledger_id for led in ml.deletable_ledgers(None, NO_RETENTION, now=9.0)] == [0, 1, 2]


@pytest.mark.parametrize(
    "bad",
    [
        {"managed_ledger_max_entries_per_ledger": 0},
        {"managed_ledger_min_ledger_rollover_time_minutes": -1},
        {"managed_ledger_max_ledger_rollover_time_minutes": 0},
        {"managed_ledger_max_size_per_ledger_mbytes": 0},
    ],
)
def test_invalid_config(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LedgerConfig(**bad)  # type: ignore[arg-type]
