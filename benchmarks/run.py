"""`make bench`: every benchmark, with its goal beside the measured figure."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_kernel
import bench_sweep


def kernel() -> None:
    million = 1_000_000
    print("== mqsim vs bare SimPy: M/M/1 at rho 0.9, 1,000,000 messages, tracing off")
    ours = bench_kernel.measure("mqsim", million)
    bare = bench_kernel.measure("simpy", million)
    for label, r in (("mqsim", ours), ("bare SimPy", bare)):
        rate = r["messages"] / r["wall"]
        print(f"  {label:<11} {r['wall']:7.2f} s  {rate:10,.0f} msg/s  peak {r['peak_mb']:6.1f} MB")
    ratio = ours["wall"] / bare["wall"]
    print(f"  ratio mqsim / SimPy: {ratio:.2f}x (goal: within 2x)")

    print("== memory: 1M vs 5M messages (goal: under 150 MB, not growing)")
    five = bench_kernel.measure("mqsim", 5 * million)
    print(
        f"  1M: {ours['peak_mb']:.1f} MB   5M: {five['peak_mb']:.1f} MB"
        f"   growth {five['peak_mb'] - ours['peak_mb']:+.1f} MB"
    )

    print("== draining a 1,000,000-message backlog (goal: flat cost per message)")
    drain = bench_kernel.measure("drain", million)
    print(
        f"  mqsim queue: first tenth {drain['first_tenth_us']:.2f} us/msg, "
        f"last tenth {drain['last_tenth_us']:.2f} us/msg "
        f"(ratio {drain['last_tenth_us'] / drain['first_tenth_us']:.2f})"
    )
    for size in (50_000, 200_000):
        store = bench_kernel.measure("simpy_store_drain", size)
        print(
            f"  SimPy Store, {size:,} backlog: first tenth {store['first_tenth_us']:.2f} us/msg,"
            f" last tenth {store['last_tenth_us']:.2f} us/msg"
        )


if __name__ == "__main__":
    kernel()
    bench_sweep.main()
