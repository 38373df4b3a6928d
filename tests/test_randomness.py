from __future__ import annotations

import numpy as np

from sim.randomness import RandomStreams, spawn_seeds


def test_a_stream_depends_only_on_seed_and_name() -> None:
    a = RandomStreams(7).generator("producer:x/arrivals").random(5)
    RandomStreams(7).generator("something else").random(100)  # other streams don't interfere
    b = RandomStreams(7).generator("producer:x/arrivals").random(5)
    np.testing.assert_array_equal(a, b)


def test_names_and_seeds_give_different_streams() -> None:
    base = RandomStreams(7).generator("a").random(5)
    assert not np.array_equal(base, RandomStreams(7).generator("b").random(5))
    assert not np.array_equal(base, RandomStreams(8).generator("a").random(5))


def test_spawned_seeds_are_distinct_and_reproducible() -> None:
    seeds = spawn_seeds(1, 200)
    assert len(set(seeds)) == 200
    assert seeds == spawn_seeds(1, 200)
    assert spawn_seeds(1, 5) == seeds[:5]
    assert spawn_seeds(2, 5) != seeds[:5]
