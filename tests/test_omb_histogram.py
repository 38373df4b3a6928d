"""OMB's latency arithmetic: sim/omb/histogram.py against a literal port of the HdrHistogram
Java code OMB calls (AbstractHistogram, PercentileIterator), and the JSON number format."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim.omb.histogram import Histogram
from sim.omb.result import java_double
from tests.test_omb_workload import OMB

SUB_BUCKETS = 2**18  # 5 significant digits: 2 * 10^5 rounded up to a power of two


def _java_buckets(values: list[int]) -> list[tuple[int, int, int]]:
    """(lowest, highest, median) equivalent value of each value, one at a time, as
    AbstractHistogram's getBucketIndex / lowestEquivalentValue / sizeOfEquivalentValueRange do."""
    out = []
    for value in values:
        bucket = max(0, (value | (SUB_BUCKETS - 1)).bit_length() - 18)
        size = 1 << bucket
        lowest = (value >> bucket) << bucket
        out.append((lowest, lowest + size - 1, lowest + (size >> 1)))
    return out


def _java_walk(values: list[int], ticks: int = 100) -> dict[float, int]:
    """PercentileIterator (ticksPerHalfDistance) as OMB collects it into a TreeMap, stepped
    bucket by bucket exactly as AbstractHistogramIterator.next() and hasNext() do."""
    buckets: dict[int, int] = {}
    for _, highest, _ in _java_buckets(values):
        buckets[highest] = buckets.get(highest, 0) + 1
    order = sorted(buckets)
    total = len(values)
    walk: dict[float, int] = {}
    level, reached_last, index, count_to_index, fresh = 0.0, False, 0, 0, True
    while True:
        if count_to_index >= total:  # super.hasNext() is false: one last step to 100%
            if reached_last:
                break
            level, reached_last = 100.0, True
        while index < len(order):
            value = order[index]
            if fresh:
                count_to_index += buckets[value]
                fresh = False
            if 100.0 * count_to_index / total >= level:
                walk[100.0 * count_to_index / total] = value
                gap = 100.0 / (100.0 - level) if level < 100.0 else math.inf
                exponent = int(math.log(gap) / math.log(2)) if math.isfinite(gap) else 0
                level += 100.0 / (ticks * 2 ** (exponent + 1))
                break
            index, fresh = index + 1, True
        else:
            break
    return walk


def _java_value_at(values: list[int], percentile: float) -> int:
    """getValueAtPercentile (HdrHistogram 2.1.12) by walking the counts."""
    requested = min(max(math.nextafter(percentile, -math.inf), 0.0), 100.0)
    target = max(1, math.ceil(requested * len(values) / 100.0))
    highest = sorted(h for _, h, _ in _java_buckets(values))
    return highest[target - 1]


SAMPLES = [
    [5],
    [0, 0, 0, 1],
    list(range(1, 1001)),
    [548_000, 548_001, 548_002, 548_003, 1_000_000, 7],
]


def _random(seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    # Mostly small, with a long tail past 2^18 us where buckets widen.
    return [int(v) for v in rng.lognormal(8.0, 2.0, 3000).astype(np.int64)]


@pytest.mark.parametrize("values", [*SAMPLES, _random(1), _random(2)])
def test_percentiles_max_and_mean_are_hdrhistograms(values: list[int]) -> None:
    histogram = Histogram(np.array(values))
    for p in (0.1, 25.0, 50.0, 75.0, 95.0, 99.0, 99.9, 99.99, 100.0):
        assert histogram.value_at(p) == _java_value_at(values, p), p
    assert histogram.max == max(h for _, h, _ in _java_buckets(values))
    medians = [m for _, _, m in _java_buckets(values)]
    assert histogram.mean == pytest.approx(sum(medians) / len(medians), rel=1e-12)


@pytest.mark.parametrize("values", [*SAMPLES, _random(3), _random(4)])
def test_the_percentile_walk_is_hdrhistograms(values: list[int]) -> None:
    assert Histogram(np.array(values)).percentiles(100) == _java_walk(values)


def test_large_values_show_as_their_buckets_highest_value() -> None:
    # 548,000 us lies in a bucket of 4 us, reported as 548.003 ms in OMB's files
    # (../shared/omb/results/upstream-pr407-...json: aggregatedEndToEndLatency999pct).
    assert Histogram(np.array([548_000])).max == 548_003
    assert Histogram(np.array([262_143])).max == 262_143  # still exact below 2^18


def test_an_empty_histogram_reports_zeros_as_java_does() -> None:
    empty = Histogram(np.array([], dtype=np.int64))
    assert (empty.mean, empty.max, empty.value_at(99.0), empty.percentiles()) == (0.0, 0, 0, {})


def test_the_walk_of_a_real_result_has_the_same_first_keys() -> None:
    """The first keys of OMB's own map: the first bucket's share, then the first buckets past
    0.5% and 1.0% (100 steps per halving of the distance to 100%)."""
    path = OMB / "results" / "upstream-pr407-kafka-1-topic-1-partition-1kb.json"
    quantiles = json.loads(path.read_text(encoding="utf-8"))["aggregatedPublishLatencyQuantiles"]
    keys = sorted(float(k) for k in quantiles)
    assert keys[1] >= 0.5 > keys[0] and keys[2] >= 1.0 > keys[1]
    walk = Histogram(np.array(_random(5) * 10)).percentiles(100)
    ours = sorted(walk)
    assert ours[1] >= 0.5 > ours[0] and ours[2] >= 1.0 > ours[1] and ours[-1] == 100.0


@pytest.mark.parametrize(
    ("value", "java"),
    [
        (0.0, "0.0"),
        (1.0, "1.0"),
        (0.904, "0.904"),
        (548.003, "548.003"),
        (100.0, "100.0"),
        (2.6357704466400003e-06, "2.6357704466400003E-6"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1234567.0, "1234567.0"),
        (10_000_000.0, "1.0E7"),
        (54560.15650749273, "54560.15650749273"),
        (-2.5, "-2.5"),
    ],
)
def test_doubles_are_written_as_java_writes_them(value: float, java: str) -> None:
    assert java_double(value) == java
    assert float(java) == value  # and read back as the same double
