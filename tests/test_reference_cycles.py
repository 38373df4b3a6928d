"""A run frees what it lets go by reference counting: it makes no reference cycles, which
only CPython's cyclic collector would free. sim/collector.py leans on that to keep the
collector from walking what a run holds, and frees cycles anyway, later, if a model makes
them."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import sim
import sim.kernel
from sim import collector
from tests.helpers import ROOT, run_outputs

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture
def collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.stem)
def test_a_run_makes_no_reference_cycles(
    path: Any, monkeypatch: pytest.MonkeyPatch, collector_restored: None
) -> None:
    """With the cyclic collector off for the whole run, a collection after it finds nothing
    the run made and let go (the model frozen before the run is left out of it)."""
    advance = sim.kernel._advance
    found: list[int] = []

    def without_the_collector(*args: Any, **kwargs: Any) -> None:
        gc.collect()
        gc.disable()
        advance(*args, **kwargs)
        found.append(gc.collect())
        gc.enable()

    monkeypatch.setattr(sim.kernel, "_advance", without_the_collector)
    results = sim.run(path)
    assert results.summary["produced"] > 0
    assert found == [0]


def test_survivors_are_frozen_while_a_run_goes_on(collector_restored: None) -> None:
    gc.enable()
    with collector.held_out_of_collections():
        before = gc.get_freeze_count()
        held = [[i] for i in range(20_000)]  # long-lived: a log's records, say
        # Allocations enough for young collections, which freeze their survivors.
        for _ in range(5):
            _scratch = [[i] for i in range(2_000)]
        frozen = gc.get_freeze_count()
    assert frozen >= before + len(held)
    assert gc.get_freeze_count() == 0  # all unfrozen after the run


def test_without_the_switch_only_the_model_is_frozen(
    monkeypatch: pytest.MonkeyPatch, collector_restored: None
) -> None:
    gc.enable()
    monkeypatch.setattr(collector, "FREEZE_SURVIVORS", False)
    with collector.held_out_of_collections():
        before = gc.get_freeze_count()
        held = [[i] for i in range(20_000)]
        for _ in range(5):
            _scratch = [[i] for i in range(2_000)]
        frozen = gc.get_freeze_count()
    assert len(held) == 20_000
    assert frozen == before


_CYCLES = """
import gc
from collections import deque
from sim import collector

class Ring:
    __slots__ = ("me",)
    alive = 0
    def __init__(self):
        self.me = self
        Ring.alive += 1
    def __del__(self):
        Ring.alive -= 1

gc.collect()
collector._FLOOR = 20_000
with collector.held_out_of_collections():
    # The most alive at once: about what was frozen when the run began (the doubling),
    # plus what is made while the full collection that frees them is waited for.
    bound = gc.get_freeze_count() + 150_000
    made, most = 3 * bound, 0
    # Each ring is held for a while (a request in flight), so young collections see it
    # alive and freeze it; let go after, it is cyclic garbage among the frozen.
    window = deque(maxlen=5_000)
    for _ in range(made):
        window.append(Ring())
        most = max(most, Ring.alive)
    window.clear()
gc.collect()
print(Ring.alive, most, bound)
"""


def test_cycles_a_model_makes_are_still_freed() -> None:
    """Frozen cycles would live until the run ends; once the frozen objects may have doubled,
    a full collection walks them all and frees the cycles among them. In a fresh
    interpreter: when the next full collection comes depends on what the process did before
    (the old generation's size at its last full collection)."""
    done = subprocess.run(
        [sys.executable, "-c", _CYCLES], capture_output=True, text=True, check=True, cwd=ROOT
    )
    alive, most, bound = map(int, done.stdout.split())
    assert alive == 0
    assert most < bound  # freed along the way, not only when the run ended


_DRAIN = """
import gc
from sim import collector

gc.collect()
collector._FLOOR = 20_000
walked = []
gc.callbacks.append(lambda phase, info: phase == "stop" and walked.append(info["generation"]))
with collector.held_out_of_collections():
    backlog = []  # made in the run, then held while it drains, as a Kafka log is
    for _ in range(100):
        backlog.extend([i] for i in range(1_000))
    gc.collect()  # the full collection its growth let in, or would have soon
    held = gc.get_freeze_count()
    first = len(walked)
    # A drain: each fetch makes a batch, which a young collection finds alive and freezes,
    # then lets it go.
    for _ in range(2_000):
        batch = [[i] for i in range(1_000)]
        del batch
    young = sum(1 for generation in walked[first:] if generation < 2)
    full = sum(1 for generation in walked[first:] if generation == 2)
print(young, full, held)
"""


def test_a_drain_lets_no_full_collection_in() -> None:
    """A drain makes young collections without holding more: the frozen objects are counted
    before a full collection is let in, so none walks the backlog that is drained (it would
    cost as much as a tenth of the drain; benchmarks/README.md, eleventh round)."""
    done = subprocess.run(
        [sys.executable, "-c", _DRAIN], capture_output=True, text=True, check=True, cwd=ROOT
    )
    young, full, held = map(int, done.stdout.split())
    # Young collections enough to have doubled what is frozen, had each batch stayed.
    assert young * gc.get_threshold()[0] > 2 * held
    assert full == 0


@pytest.mark.parametrize(
    "name", ["kafka_retention", "notification_system", "pulsar_backlog_quota", "work_queue"]
)
def test_freezing_survivors_changes_no_output(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ROOT / "scenarios" / f"{name}.yaml"
    frozen = run_outputs(sim.run(path))
    monkeypatch.setattr(collector, "FREEZE_SURVIVORS", False)
    assert run_outputs(sim.run(path)) == frozen
