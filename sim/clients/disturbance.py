"""What `slow` and `error` faults change in a consumer, shared by every broker's consumers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.distributions import Sampler

if TYPE_CHECKING:
    from sim.kernel import RunContext

__all__ = ["Disturbance"]


class Disturbance:
    """A service-time factor and a failure probability, set by fault hooks (sim/faults.py).

    Failures are drawn from the part's own stream `<owner>/failures`, in blocks, so a fault on
    one consumer leaves every other random draw of the run as it was.
    """

    slowdown: float
    error_probability: float

    def init_disturbance(self, ctx: RunContext, owner: str, error_probability: float = 0.0):  # type: ignore[no-untyped-def]
        self.slowdown = 1.0
        self.error_probability = error_probability
        failures = ctx.streams.generator(f"{owner}/failures")
        self._failure_draw = Sampler(lambda n: failures.random(n).tolist())

    def failed(self) -> bool:
        """Does this piece of work fail? (Draws only while failures are possible.)"""
        return self.error_probability > 0 and self._failure_draw() < self.error_probability

    def set_slowdown(self, factor: float) -> None:
        self.slowdown = factor

    def set_error_probability(self, probability: float) -> None:
        self.error_probability = probability
