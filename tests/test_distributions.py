from __future__ import annotations

import math

import numpy as np
import pytest

from sim.distributions import BLOCK, Distribution, parse_distribution

KNOWN = "exp, uniform, normal, lognormal, pareto, empirical"


@pytest.mark.parametrize(
    ("text", "kind", "mean"),
    [
        ("20ms", "constant", 0.02),
        ("exp(20ms)", "exp", 0.02),
        ("uniform(5ms, 15ms)", "uniform", 0.01),
        ("lognormal(mean=20ms, sd=10ms)", "lognormal", 0.02),
        ("lognormal(sd=10ms, mean=20ms)", "lognormal", 0.02),
        ("pareto(3, 10ms)", "pareto", 0.015),
        ("empirical([1ms, 2ms, 6ms])", "empirical", 0.003),
    ],
)
def test_parse_and_sample_mean(text: str, kind: str, mean: float) -> None:
    dist = parse_distribution(text)
    assert dist.kind == kind
    assert dist.mean == pytest.approx(mean)
    sampler = dist.sampler(np.random.default_rng(3))
    values = np.array([sampler() for _ in range(200_000)])
    assert values.mean() == pytest.approx(mean, rel=0.03)
    assert values.min() >= 0


def test_normal_is_truncated_at_zero_not_clipped() -> None:
    dist = parse_distribution("normal(1ms, 2ms)")
    sampler = dist.sampler(np.random.default_rng(1))
    values = np.array([sampler() for _ in range(100_000)])
    assert values.min() > 0  # clipping would pile mass exactly at zero
    assert values.mean() == pytest.approx(dist.mean, rel=0.02)
    assert dist.mean > 0.001  # truncation raises the mean above mu


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("expo(1s)", f"unknown distribution 'expo' (known: {KNOWN})"),
        ("uniform(5ms)", "uniform(...) takes 2 argument(s)"),
        ("uniform(15ms, 5ms)", "needs low <= high"),
        ("lognormal(mean=20ms, spread=1ms)", "has no argument 'spread'"),
        ("empirical(1ms, 2ms)", "takes a list"),
        ("pareto(-1, 1s)", "shape must be positive"),
        ("soon", "expected a duration or a distribution"),
    ],
)
def test_bad_distributions(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_distribution(text)
    assert message in str(error.value)


def test_block_draws_continue_one_stream() -> None:
    """Drawing in blocks yields exactly the numbers one long numpy call would."""
    sampler = parse_distribution("exp(1s)").sampler(np.random.default_rng(42))
    drawn = [sampler() for _ in range(BLOCK * 2 + 5)]
    reference = np.random.default_rng(42).exponential(1.0, BLOCK * 3)[: len(drawn)]
    np.testing.assert_array_equal(drawn, reference)


def test_constant_needs_no_generator_and_scaling_keeps_shape() -> None:
    assert Distribution.constant(2.0).sampler(None)() == 2.0
    slow = parse_distribution("pareto(2.5, 10ms)").scaled(3)
    assert slow.params == (2.5, pytest.approx(0.03))
    assert parse_distribution("exp(1s)").scaled(2).mean == 2.0
    assert math.isinf(parse_distribution("pareto(1, 1s)").mean)


def test_text_form_reads_back() -> None:
    for text in ("exp(20ms)", "uniform(5ms, 15ms)", "lognormal(mean=20ms, sd=10ms)", "1.5s"):
        dist = parse_distribution(text)
        assert parse_distribution(str(dist)) == dist
