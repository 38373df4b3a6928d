"""What `down`, `slow` and `error` faults do to a consumer, shared by every broker's consumers."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.distributions import Sampler

if TYPE_CHECKING:
    import simpy

    from sim.context import RunContext

__all__ = ["Disturbance"]


class Disturbance:
    """A pause, a service-time factor and a failure probability, set by fault hooks
    (sim/faults.py).

    Failures are drawn from the part's own stream `<owner>/failures`, in blocks, so a fault on
    one consumer leaves every other random draw of the run as it was. A paused (down) consumer
    waits in `wait_while_down` at the top of its loop; a broker model with more to do when a
    consumer goes down (RabbitMQ cancels its basic.consume) extends `go_down` / `come_up`.
    """

    slowdown: float
    error_probability: float

    def init_disturbance(self, ctx: RunContext, owner: str, error_probability: float = 0.0):  # type: ignore[no-untyped-def]
        self.slowdown = 1.0
        self.error_probability = error_probability
        self._env = ctx.env
        self._paused = False
        self._resume: simpy.Event | None = None
        failures = ctx.streams.generator(f"{owner}/failures")
        self._failure_draw = Sampler(lambda n: failures.random(n).tolist())

    def failed(self) -> bool:
        """Does this piece of work fail? (Draws only while failures are possible.)"""
        return self.error_probability > 0 and self._failure_draw() < self.error_probability

    def set_slowdown(self, factor: float) -> None:
        self.slowdown = factor

    def set_error_probability(self, probability: float) -> None:
        self.error_probability = probability

    def wait_while_down(self) -> Generator[Any, Any, None]:
        while self._paused:
            self._resume = self._env.event()
            yield self._resume

    def go_down(self) -> None:
        self._paused = True

    def come_up(self) -> None:
        self._paused = False
        resume, self._resume = self._resume, None
        if resume is not None and not resume.triggered:
            resume.succeed()
