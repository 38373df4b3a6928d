"""Probability distributions of durations, written as `exp(20ms)`, and fast samplers over them.

A `Distribution` is an immutable description (it round-trips to its text); a `Sampler` draws from
one numpy Generator in blocks, because one numpy call per event would dominate a run's cost.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

import numpy as np

from sim.units import format_duration, parse_duration

__all__ = ["KNOWN_DISTRIBUTIONS", "Distribution", "Sampler", "parse_distribution"]

KNOWN_DISTRIBUTIONS = ("exp", "uniform", "normal", "lognormal", "pareto", "empirical", "constant")
BLOCK = 4096  # draws per numpy call: large enough to amortise the call, small enough for cache
_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.S)


@dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution of non-negative durations (seconds).

    `params` holds the numbers in the order the text form takes them; `values` only for
    `empirical`.
    """

    kind: str
    params: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    @classmethod
    def constant(cls, seconds: float) -> Distribution:
        return cls("constant", (float(seconds),))

    @property
    def mean(self) -> float:
        kind, p = self.kind, self.params
        if kind in ("constant", "exp"):
            return p[0]
        if kind == "uniform":
            return (p[0] + p[1]) / 2
        if kind == "normal":
            return _truncated_normal_mean(p[0], p[1])
        if kind == "lognormal":
            return p[0]
        if kind == "pareto":
            shape, scale = p
            return math.inf if shape <= 1 else shape * scale / (shape - 1)
        return float(np.mean(self.values))

    def scaled(self, factor: float) -> Distribution:
        """The same shape with every duration multiplied by `factor` (pareto keeps its shape)."""
        if self.kind == "pareto":
            return Distribution("pareto", (self.params[0], self.params[1] * factor))
        return Distribution(
            self.kind,
            tuple(p * factor for p in self.params),
            tuple(v * factor for v in self.values),
        )

    def sampler(self, rng: np.random.Generator | None) -> Sampler:
        return Sampler.of(self, rng)

    def __str__(self) -> str:
        d, p = format_duration, self.params
        if self.kind == "constant":
            return d(p[0])
        if self.kind == "exp":
            return f"exp({d(p[0])})"
        if self.kind in ("uniform", "normal"):
            return f"{self.kind}({d(p[0])}, {d(p[1])})"
        if self.kind == "lognormal":
            return f"lognormal(mean={d(p[0])}, sd={d(p[1])})"
        if self.kind == "pareto":
            return f"pareto({p[0]:g}, {d(p[1])})"
        return "empirical([" + ", ".join(d(v) for v in self.values) + "])"


def _truncated_normal_mean(mu: float, sigma: float) -> float:
    if sigma == 0:
        return max(mu, 0.0)
    alpha = -mu / sigma
    phi = math.exp(-alpha * alpha / 2) / math.sqrt(2 * math.pi)
    tail = 0.5 * math.erfc(alpha / math.sqrt(2))  # P(Z > alpha)
    return mu + sigma * phi / tail


class Sampler(partial):  # type: ignore[type-arg]
    """Returns one value per call from a block of draws, refilled by `draw(n)` when used up.

    Speed: a sampler is `partial(next, values)` over one iterator of every block in turn
    (`chain.from_iterable` of a generator calling `draw(BLOCK)` when the last block is used
    up): a call is C-level, no Python frame per value (a Python `__call__` cost a frame per
    draw, two a message on the ideal paths: an arrival gap, a service time). The blocks are
    drawn exactly when they were before: the first at the first call, each next one at the
    call after the last value of the one before.
    """

    __slots__ = ()

    def __new__(cls, draw: Callable[[int], list[Any]]) -> Sampler:
        return super().__new__(cls, next, chain.from_iterable(_blocks(draw)))

    @classmethod
    def of(cls, distribution: Distribution, rng: np.random.Generator | None) -> Sampler:
        block = _block_drawer(distribution, rng)
        # tolist() turns a block into Python floats once, so each call is a cheap next().
        return cls(lambda n: block(n).tolist())

    @classmethod
    def choice(cls, items: list[Any], rng: np.random.Generator) -> Sampler:
        """Uniform picks from `items`."""
        return cls(lambda n: [items[i] for i in rng.integers(0, len(items), n)])


def _blocks(draw: Callable[[int], list[Any]]) -> Iterator[list[Any]]:
    """`draw(BLOCK)`, again each time the last block is used up."""
    while True:
        yield draw(BLOCK)


def _block_drawer(
    dist: Distribution, rng: np.random.Generator | None
) -> Callable[[int], np.ndarray]:
    p = dist.params
    if dist.kind == "constant":
        return lambda n: np.full(n, p[0])
    if rng is None:
        raise ValueError(f"{dist} needs a random generator")
    if dist.kind == "exp":
        return lambda n: rng.exponential(p[0], n)
    if dist.kind == "uniform":
        return lambda n: rng.uniform(p[0], p[1], n)
    if dist.kind == "normal":
        return lambda n: _truncated_normal(rng, p[0], p[1], n)
    if dist.kind == "lognormal":
        mean, sd = p
        sigma2 = math.log1p((sd / mean) ** 2)
        mu = math.log(mean) - sigma2 / 2
        return lambda n: rng.lognormal(mu, math.sqrt(sigma2), n)
    if dist.kind == "pareto":
        shape, scale = p
        # numpy's pareto is the Lomax form; shifting by one gives the classical Pareto(x_m=scale).
        return lambda n: scale * (1.0 + rng.pareto(shape, n))
    values = np.asarray(dist.values)
    return lambda n: rng.choice(values, n)


def _truncated_normal(rng: np.random.Generator, mu: float, sigma: float, n: int) -> np.ndarray:
    draws = rng.normal(mu, sigma, n)
    negative = draws < 0
    while negative.any():  # rejection keeps the true truncated shape, unlike clipping at zero
        draws[negative] = rng.normal(mu, sigma, int(negative.sum()))
        negative = draws < 0
    return draws


def _split_args(text: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    tail = "".join(current).strip()
    if tail or parts:
        parts.append(tail)
    return parts


def _arguments(kind: str, text: str, names: tuple[str, ...]) -> dict[str, str]:
    args = _split_args(text)
    if len(args) != len(names):
        raise ValueError(f"{kind}(...) takes {len(names)} argument(s): {kind}({', '.join(names)})")
    found: dict[str, str] = {}
    for position, arg in enumerate(args):
        if "=" in arg:
            key, value = (s.strip() for s in arg.split("=", 1))
            if key not in names:
                raise ValueError(f"{kind}(...) has no argument {key!r} (takes {', '.join(names)})")
            found[key] = value
        else:
            found[names[position]] = arg
    return found


def parse_distribution(value: str | float | Distribution) -> Distribution:
    """Read `exp(20ms)`, `uniform(5ms, 15ms)`, `normal(20ms, 5ms)`, `lognormal(mean=20ms, sd=10ms)`,
    `pareto(2.5, 10ms)`, `empirical([1ms, 2ms])`, or a bare duration (a constant)."""
    if isinstance(value, Distribution):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Distribution.constant(parse_duration(value))
    text = str(value)
    call = _CALL.match(text)
    if call is None:
        try:
            return Distribution.constant(parse_duration(text))
        except ValueError:
            raise ValueError(
                f"expected a duration or a distribution such as 'exp(20ms)', got {text!r}"
            ) from None
    kind, inner = call.group(1), call.group(2)
    if kind not in KNOWN_DISTRIBUTIONS:
        raise ValueError(
            f"unknown distribution {kind!r} (known: {', '.join(KNOWN_DISTRIBUTIONS[:-1])})"
        )
    if kind == "empirical":
        inner = inner.strip()
        if not (inner.startswith("[") and inner.endswith("]")):
            raise ValueError("empirical(...) takes a list: empirical([1ms, 2ms, 5ms])")
        values = tuple(parse_duration(v) for v in _split_args(inner[1:-1]))
        if not values:
            raise ValueError("empirical([...]) needs at least one value")
        return Distribution("empirical", (), values)
    if kind == "pareto":
        args = _arguments(kind, inner, ("shape", "scale"))
        shape = float(args["shape"])
        if shape <= 0:
            raise ValueError(f"pareto shape must be positive, got {shape}")
        return Distribution("pareto", (shape, parse_duration(args["scale"])))
    names = {
        "constant": ("value",),
        "exp": ("mean",),
        "uniform": ("low", "high"),
        "normal": ("mean", "sd"),
        "lognormal": ("mean", "sd"),
    }[kind]
    args = _arguments(kind, inner, names)
    params = tuple(parse_duration(args[name]) for name in names)
    if kind == "uniform" and params[0] > params[1]:
        raise ValueError(f"uniform(low, high) needs low <= high, got {text!r}")
    if kind == "lognormal" and params[0] <= 0:
        raise ValueError("lognormal mean must be positive")
    return Distribution(kind, params)
