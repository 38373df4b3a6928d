"""Open-loop clients of a service: they send on their load profile whatever the service does.

A request is a Message. Its fate, reported to the Recorder once, is decided here unless a
service has handed it to the broker first (then the broker and its consumers decide it):

- processed: the client got a successful answer before its deadline;
- rejected:  the service refused it at the door (its line was full, or it was crashed);
- lost:      the client got an error answer (a downstream call failed after its retries, a
             breaker was open, an injected error, or the service crashed while holding it);
- expired:   the deadline passed with no answer (the client gave up).

Each request carries its client's `kind` and `priority`, and counts once in `due.<provider>`
for each of its client's `channels` (the notifications it asks for, sim/services/provider.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.clients.load import LoadSchedule
from sim.distributions import Distribution
from sim.message import Message
from sim.services.calls import Call, Outcome

if TYPE_CHECKING:
    from sim.context import RunContext
    from sim.services.config import ClientConfig
    from sim.services.service import Service

__all__ = ["Client"]

UNIT_EXP = Distribution("exp", (1.0,))
UNIT_STEP = Distribution.constant(1.0)


class Client:
    def __init__(self, ctx: RunContext, config: ClientConfig, service: Service) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.recorder = ctx.recorder
        self.config = config
        self.name = config.name
        self.service = service
        schedule = LoadSchedule.of(config.rate, config.schedule, config.spikes)
        unit = UNIT_EXP if config.arrivals == "poisson" else UNIT_STEP
        self._next_gap = schedule.gaps(
            ctx.sampler(f"client:{self.name}/arrivals", unit), config.start
        )
        self._waiting: deque[Call] = deque()  # calls not yet answered, in deadline order
        self._wake: simpy.Event | None = None
        self._answered = self._on_answer
        self.env.process(self._send())
        if config.deadline is not None:
            self.env.process(self._enforce_deadlines(config.deadline))

    def _send(self) -> Generator[Any, Any, None]:
        env, config, recorder, ids = self.env, self.config, self.recorder, self.ctx.message_ids
        next_gap, name, service, size = self._next_gap, self.name, self.service, config.message_size
        stop = config.stop if config.stop is not None else float("inf")
        track = config.deadline is not None
        kind, priority = config.kind or "", config.priority
        due = [f"due.{channel}" for channel in config.channels]
        if kind:
            due += [f"due.{channel}.{kind}" for channel in config.channels]
        count = recorder.count
        waiting, timeout = self._waiting, env.timeout
        if config.start > 0:
            yield timeout(config.start)
        while True:
            gap = next_gap()
            if env.now + gap >= stop:
                return
            yield timeout(gap)
            msg = Message(next(ids), env.now, size, priority=priority)
            msg.kind = kind
            recorder.produced_message(msg, name)
            for key in due:
                count(key)
            call = Call(msg, env.now, None, self._answered)
            if track:
                waiting.append(call)
                wake = self._wake
                if wake is not None:
                    self._wake = None
                    wake.succeed()
            service.submit(call)

    def _on_answer(self, call: Call, outcome: Outcome) -> None:
        service = self.service
        service.view.record(outcome is Outcome.OK, self.env.now - call.sent_at)
        if call.handed_off:
            return
        if outcome is Outcome.OK:
            self.recorder.processed(call.msg, service.name)
        elif outcome is Outcome.REFUSED or outcome is Outcome.FULL:
            self.recorder.rejected(call.msg, service.name)
        else:
            self.recorder.lost(call.msg, service.name)

    def _enforce_deadlines(self, deadline: float) -> Generator[Any, Any, None]:
        """One process for all of this client's deadlines: they expire in sending order."""
        env, waiting, recorder, name = self.env, self._waiting, self.recorder, self.name
        view = self.service.view
        while True:
            if not waiting:
                self._wake = env.event()
                yield self._wake
                continue
            head = waiting[0]
            if head.answered:
                waiting.popleft()
                continue
            due = head.sent_at + deadline
            if due > env.now:
                yield env.timeout(due - env.now)
                continue
            waiting.popleft()
            head.caller_gave_up = True
            view.record(False, deadline)
            if not head.handed_off:
                recorder.expired(head.msg, name)
