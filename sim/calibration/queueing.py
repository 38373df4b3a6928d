"""Queueing formulas the calibration needs beyond a stage's capacity.

mqperf's senders are closed loop: each thread sends a batch synchronously and sends the next
once the call is answered (softwaremill/mqperf Sender.scala). N threads cycling through a
fixed delay (the network round trip and the no-queueing latency of the call) and through
queueing stations (the broker's stages, the sender machines' cores) form a closed queueing
network, whose throughput for N customers mean-value analysis gives (Reiser & Lavenberg,
"Mean-value analysis of closed multichain queuing networks", JACM 27(2), 1980). For thousands
of threads we use Schweitzer's approximation, which solves for population N directly by
assuming each station's queue seen on arrival is (N-1)/N of its mean (Lazowska, Zahorjan,
Graham & Sevcik, *Quantitative System Performance*, 1984, section 6.4.2), and Seidmann's
for a station of c servers: a single server c times faster followed by a delay of the rest of
its service time (ibid., section 8.3; Seidmann, Schweitzer & Shalev-Oren, 1987). Both are
exact in the limits that matter here: one thread (no queueing) and saturation (the
bottleneck's capacity).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["closed_throughput"]


def closed_throughput(
    customers: float,
    delay: float,
    stations: Sequence[tuple[float, int]],
    tolerance: float = 1e-10,
    iterations: int = 10_000,
) -> float:
    """Cycles a second of `customers` customers, each cycle spending `delay` seconds in a pure
    delay and `demand` seconds of service at each (demand, servers) station."""
    if customers <= 0:
        return 0.0
    queued = [(d / c, d * (c - 1) / c) for d, c in stations if d > 0]
    if not queued:
        return customers / delay if delay > 0 else float("inf")
    n = customers
    lengths = [n / (len(queued) + 1)] * len(queued)
    throughput = 0.0
    for _ in range(iterations):
        residence = [
            s * (1 + q * (n - 1) / n) + extra for (s, extra), q in zip(queued, lengths, strict=True)
        ]
        throughput = n / (delay + sum(residence))
        new = [throughput * (r - extra) for r, (_, extra) in zip(residence, queued, strict=True)]
        if max(abs(a - b) for a, b in zip(new, lengths, strict=True)) < tolerance * n:
            lengths = new
            break
        lengths = new
    return throughput
