"""A consumer's synchronous calls to providers (sim/services/): what its processing does after
its own service time when the consumer has `calls`.

A call is the services' own `Call`, submitted to the provider as a service's downstream call
is: the replica waits for the answer, or gives up after the consumer's `timeout` (the provider
may still finish the send: a retry then sends it twice, unless the provider honours
idempotency keys). The first call that does not succeed fails the processing; what happens
next is the consumer's retry policy or its broker's failure handling (sim/consumers/cycle.py).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.services.calls import Call, Outcome
from sim.services.config import by_kind

if TYPE_CHECKING:
    import simpy

    from sim.clients.config import ConsumerBase
    from sim.context import RunContext
    from sim.message import Message
    from sim.services.service import Service

__all__ = ["ProviderCalls"]

OK, TIMEOUT, THROTTLED = Outcome.OK, Outcome.TIMEOUT, Outcome.THROTTLED


class ProviderCalls:
    """One replica's calls: the providers of each message, in order."""

    def __init__(self, ctx: RunContext, config: ConsumerBase) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.names = by_kind(config.calls)
        self.timeout = config.timeout
        self._callees: dict[str | None, list[Service]] | None = None
        self.outcome = OK  # how the last failed call ended
        self.retry_after = 0.0  # what the last throttling answer asked to wait

    def callees(self, msg: Message) -> list[Service]:
        found = self._callees
        if found is None:  # services are built after the broker: resolved at the first call
            services = self.ctx.services
            found = self._callees = {
                kind: [services[name] for name in names] for kind, names in self.names.items()
            }
        return found.get(None) or found.get(msg.kind) or []

    def run(self, msg: Message) -> Generator[Any, Any, bool]:
        """Call each provider in turn; False at the first that does not succeed."""
        self.retry_after = 0.0
        for callee in self.callees(msg):
            outcome = yield from self._call(callee, msg)
            if outcome is not OK:
                self.outcome = outcome
                return False
        return True

    def _call(self, callee: Service, msg: Message) -> Generator[Any, Any, Outcome]:
        env = self.env
        answered: simpy.Event = env.event()

        def on_answer(_call: Call, outcome: Outcome) -> None:
            if not answered.triggered:
                answered.succeed(outcome)

        call = Call(msg, env.now, None, on_answer)
        callee.submit(call)
        timeout = self.timeout
        if timeout is not None and not answered.triggered:
            timer = env.timeout(timeout)
            timer.callbacks.append(lambda _t: self._time_out(call, answered))
        outcome = yield answered
        callee.view.record(outcome is OK, env.now - call.sent_at)
        if outcome is THROTTLED:
            self.retry_after = call.retry_after
        return outcome

    @staticmethod
    def _time_out(call: Call, answered: simpy.Event) -> None:
        if not answered.triggered:
            call.caller_gave_up = True  # its answer, if any, will find nobody listening
            answered.succeed(TIMEOUT)
