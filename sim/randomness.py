"""Random streams: one numpy Generator per named random source, spawned from the run's seed.

Naming a stream after the part that uses it ("producer:clients/arrivals") makes the streams
independent of each other and of the order parts are built in. Adding a consumer therefore leaves
every producer's arrival times unchanged, so two variants of a scenario compare on common random
numbers, and the same seed gives the same run bit for bit.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["RandomStreams", "spawn_seeds"]


def _name_key(name: str) -> tuple[int, ...]:
    # A stable hash (not Python's salted hash()) so streams are identical across processes.
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class RandomStreams:
    """Hands out one independent Generator per name, all derived from one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def generator(self, name: str) -> np.random.Generator:
        sequence = np.random.SeedSequence(entropy=self.seed, spawn_key=_name_key(name))
        return np.random.Generator(np.random.PCG64(sequence))


def spawn_seeds(seed: int, count: int) -> list[int]:
    """`count` distinct seeds for independent replications, derived from one scenario seed."""
    children = np.random.SeedSequence(int(seed)).spawn(count)
    # 63 bits keep the seeds positive and collisions negligible however many replications run.
    return [int(child.generate_state(1, dtype=np.uint64)[0]) >> 1 for child in children]
