"""OMB's latency arithmetic: HdrHistogram at 5 significant digits, over microseconds.

OMB records every latency in microseconds into HdrHistogram `Recorder`s with 5 significant
digits (benchmark-framework/.../worker/WorkerStats.java lines 34-62) and reports the histogram's
mean, `getValueAtPercentile`, `getMaxValue` and the `percentiles(100)` walk
(WorkloadGenerator.printAndCollectStats). A histogram with that precision keeps values below
2^18 = 262,144 us exactly and rounds larger ones into buckets of 2, 4, 8... us, reporting a
bucket by its highest equivalent value (so 548,000 us shows as 548.003 ms in OMB's files).

This module computes the same numbers from the exact values (numpy, no per-value Python):
`Histogram(values_us)` buckets them as HdrHistogram would (`getBucketIndex`,
`lowestEquivalentValue`, `sizeOfEquivalentValueRange` of AbstractHistogram.java,
HdrHistogram/HdrHistogram on GitHub) and answers with HdrHistogram's own rules, cited per method.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Histogram"]

SIGNIFICANT_DIGITS = 5
# AbstractHistogram.init: largestValueWithSingleUnitResolution = 2 * 10^digits; the sub-bucket
# count is the next power of two (2^18 for 5 digits); the unit magnitude is 0 (lowest value 1).
SUB_BUCKET_MAGNITUDE = math.ceil(math.log2(2 * 10**SIGNIFICANT_DIGITS))
SUB_BUCKET_MASK = (1 << SUB_BUCKET_MAGNITUDE) - 1


def _bucket_sizes(values: np.ndarray) -> np.ndarray:
    """sizeOfEquivalentValueRange: 2^bucketIndex, where bucketIndex = bitLength(value |
    subBucketMask) - subBucketCountMagnitude (values below 2^18 are their own bucket)."""
    bit_length = np.frexp((values | SUB_BUCKET_MASK).astype(np.float64))[1]
    return np.left_shift(np.int64(1), (bit_length - SUB_BUCKET_MAGNITUDE).astype(np.int64))


class Histogram:
    """The latencies `values_us` (whole microseconds, 0 or more) as OMB's histogram sees them."""

    def __init__(self, values_us: np.ndarray) -> None:
        values = np.asarray(values_us, dtype=np.int64)
        size = _bucket_sizes(values)
        lowest = values & ~(size - 1)  # lowestEquivalentValue
        self.highest = np.sort(lowest + size - 1)  # highestEquivalentValue, sorted
        self.count = int(values.size)
        # getMean: the mean of medianEquivalentValue = lowest + size / 2 (0 when empty).
        self._mean = float(np.mean(lowest + (size >> 1))) if self.count else 0.0

    @property
    def mean(self) -> float:
        return self._mean

    @property
    def max(self) -> int:
        """getMaxValue: the highest equivalent value of the largest value (0 when empty)."""
        return int(self.highest[-1]) if self.count else 0

    def value_at(self, percentile: float) -> int:
        """getValueAtPercentile (HdrHistogram 2.1.12): the value at or below which at least
        `percentile` % of the values fall, i.e. the ceil(p n / 100)-th, p nudged one ulp down
        (0 when empty)."""
        if not self.count:
            return 0
        requested = min(max(math.nextafter(percentile, -math.inf), 0.0), 100.0)
        rank = max(1, math.ceil(requested * self.count / 100.0))
        return int(self.highest[min(rank, self.count) - 1])

    def percentiles(self, ticks_per_half_distance: int = 100) -> dict[float, int]:
        """`histogram.percentiles(ticks)` collected into a map as OMB does: cumulative
        percentile of the bucket reached -> its highest equivalent value.

        HdrHistogram's PercentileIterator steps its level by 100 / (ticks * 2^(k+1)), k =
        floor(log2(100 / (100 - level))), and reports the first bucket whose cumulative
        percentile reaches the level; a bucket that reaches several levels is reported with
        the same key each time, so a bucket appears iff a level falls in (its predecessor's
        cumulative percentile, its own]. The last bucket is reported at 100.0.
        """
        if not self.count:
            return {}
        buckets, counts = np.unique(self.highest, return_counts=True)
        percent = 100.0 * np.cumsum(counts).astype(np.float64) / self.count
        before_last = float(percent[-2]) if len(percent) > 1 else 0.0
        levels = [0.0]
        while levels[-1] <= before_last:
            level = levels[-1]
            k = int(math.log(100.0 / (100.0 - level)) / math.log(2))
            levels.append(level + 100.0 / (ticks_per_half_distance * 2 ** (k + 1)))
        steps = np.asarray(levels)
        previous = np.concatenate(([-1.0], percent[:-1]))
        # a level in (previous, percent]: the number of levels <= percent exceeds those <= previous
        hit = np.searchsorted(steps, percent, "right") > np.searchsorted(steps, previous, "right")
        reported = zip(percent[:-1], buckets[:-1], hit[:-1], strict=True)
        walk = {float(p): int(v) for p, v, h in reported if h}
        walk[100.0] = int(buckets[-1])
        return walk
