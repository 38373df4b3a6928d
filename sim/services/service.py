"""A service: a pool of workers taking calls (and queue deliveries) from one waiting line.

Each worker slot is one long-lived process; calls waiting for a worker are passive data in a
deque. A worker spends the service time, then makes the downstream calls in order, holding
itself busy until each answers or times out (retrying with backoff, behind an optional circuit
breaker), then publishes to the broker if the service hands work off asynchronously, and answers.

A worker skips a call whose caller has already stopped waiting (gRPC-style deadline
propagation: https://grpc.io/docs/guides/deadlines/), so abandoned work is not done twice.
The hooks at the end let sim/faults.py take the service down, slow it, crash it or make it fail.

A provider (a `provider:` section, sim/services/provider.py) throttles calls over its quota at
the door, honours idempotency keys, and counts each successful send as a notification
delivered. A worker sends (service time, then the error fault's draw); an outage (`down`) or a
crash interrupts the send before it happens.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.backoff import backoff_delay
from sim.distributions import Distribution
from sim.services.calls import Breaker, Call, CallerView, Outcome
from sim.services.config import by_kind
from sim.services.provider import Deliveries

if TYPE_CHECKING:
    from sim.context import RunContext
    from sim.message import Message
    from sim.services.config import ServiceConfig
    from sim.services.ports import BrokerPort

__all__ = ["Service"]

OK, ERROR, REFUSED, FULL, TIMEOUT, OPEN, THROTTLED = (
    Outcome.OK,
    Outcome.ERROR,
    Outcome.REFUSED,
    Outcome.FULL,
    Outcome.TIMEOUT,
    Outcome.OPEN,
    Outcome.THROTTLED,
)
UNIFORM = Distribution("uniform", (0.0, 1.0))


class Service:
    def __init__(self, ctx: RunContext, config: ServiceConfig, port: BrokerPort | None) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.recorder = ctx.recorder
        self.config = config
        self.name = name = config.name
        self.workers = config.workers
        self.line: deque[Call] = deque()
        self.busy = 0
        self.up = True  # False while a `down` fault holds it (a hung service)
        self.crashed = False
        self.slowdown = 1.0
        self.error_probability = 0.0
        self.view = CallerView()  # how its callers see it
        self.callees: list[Service] = []
        # The services a request calls, by its kind (None: every request), in order.
        self._callees: dict[str | None, list[Service]] = {}
        self.breakers: dict[str, Breaker] = {}
        self._service_time = ctx.sampler(f"service:{name}/service", config.service_time)
        self._errors = ctx.sampler(f"service:{name}/errors", UNIFORM)
        self._jitter = ctx.sampler(f"service:{name}/backoff", UNIFORM)
        self._answered = self._on_downstream_answer  # one bound method, reused by every call
        self._idle: deque[simpy.Event] = deque()
        self._current: list[Call | None] = [None] * config.workers
        self._pending: list[Call | None] = [None] * config.workers
        self._keys = {
            kind: f"{kind}.{name}"
            for kind in ("calls", "errors", "refused", "rejected", "skipped", "late")
        }
        self._port = port
        # The broker's send ports a request goes to, by its kind (None: every request).
        self._publish: dict[str | None, list[Callable[[Message], bool]]] = {}
        if config.publishes_to is not None and port is not None:
            ports = {to: port.publisher(to, config.routing_key) for to in config.destinations}
            self._publish = {
                kind: [ports[to] for to in names]
                for kind, names in by_kind(config.publishes_to).items()
            }
        self.provider = (
            Deliveries(ctx, name, config.provider) if config.provider is not None else None
        )
        # A consuming service's consumer replicas (one per worker, built by the broker's
        # runtime): they take deliveries and hand each to the service (consume()).
        self.consumers: list[Any] = []
        self._ready_slot: int | None = None
        if config.consumes is not None and port is not None:
            self.consumers = port.service_consumers(config, self.consume)
            self._ready_slot = ctx.recorder.source(self.consumers[0].reader.source)
        self._processes = [self.env.process(self._worker(slot)) for slot in range(self.workers)]
        self._gauges()

    def connect(self, services: dict[str, Service]) -> None:
        """Resolve the services it calls, with one breaker per callee when configured."""
        self.callees = [services[name] for name in self.config.callees]
        self._callees = {
            kind: [services[name] for name in names]
            for kind, names in by_kind(self.config.calls).items()
        }
        breaker = self.config.circuit_breaker
        if breaker is not None:
            for callee in self.callees:
                self.breakers[callee.name] = found = Breaker(breaker)
                self.recorder.gauge(
                    f"breaker.{self.name}.{callee.name}", lambda b=found: b.state, "service.breaker"
                )

    def _gauges(self) -> None:
        gauge, name, now = self.recorder.gauge, self.name, lambda: self.env.now
        gauge(f"busy.{name}", lambda: self.busy, "service.busy")
        gauge(f"waiting.{name}", self.waiting, "service.waiting")
        gauge(f"success_rate.{name}", lambda: self.view.roll(now()).success_rate, "service.success")
        gauge(f"latency_p99.{name}", lambda: self.view.roll(now()).p99, "service.latency_p99")
        gauge(f"latency_mean.{name}", lambda: self.view.roll(now()).mean, "service.latency_mean")

    def waiting(self) -> int:
        """Work waiting for it: its line, plus the ready messages of the source it consumes."""
        waiting = len(self.line)
        if self._ready_slot is not None:
            waiting += self.recorder.ready_values[self._ready_slot]
        return waiting

    # ----- taking work -----
    def submit(self, call: Call) -> None:
        """A synchronous call arrives (it may be answered at once: refused, or line full)."""
        self.recorder.count(self._keys["calls"])
        if self.crashed:
            self.recorder.count(self._keys["refused"])
            call.answer(REFUSED)
            return
        provider = self.provider
        if provider is not None and self.up:
            retry_after = provider.throttle(self.env.now)
            if retry_after is not None:  # 429 at the edge: no worker is taken
                call.retry_after = retry_after
                delay = provider.config.throttle_time
                if delay > 0:
                    timer = self.env.timeout(delay)
                    timer.callbacks.append(lambda _t: call.answer(THROTTLED))
                else:
                    call.answer(THROTTLED)
                return
        limit = self.config.queue_limit
        if limit is not None and len(self.line) >= limit:
            if self.up:  # a hung service cannot even refuse: the call is never answered
                self.recorder.count(self._keys["rejected"])
                call.answer(FULL)
            return
        self.line.append(call)
        if self.up:
            self._wake_one()

    def consume(self, msg: Message) -> simpy.Event:
        """A delivery from the source it consumes, handed over by one of its consumer
        replicas: it waits in the line like a call; the event fires with True when it was
        processed, False when it failed (the replica then does what its broker does)."""
        done = self.env.event()
        call = Call(msg, self.env.now, on_answer=lambda _call, outcome: done.succeed(outcome is OK))
        call.handed_off = True  # the broker owns it: acked, requeued or lost
        call.delivery = True
        self.line.append(call)
        if self.up and not self.crashed:
            self._wake_one()
        return done

    def _wake_one(self) -> None:
        idle = self._idle
        while idle:
            wake = idle.popleft()
            if not wake.triggered:
                wake.succeed()
                return

    def _wake_all(self) -> None:
        for _ in range(len(self._idle)):
            self._wake_one()

    # ----- the workers -----
    def _worker(self, slot: int) -> Generator[Any, Any, None]:
        env, line, recorder, skipped = self.env, self.line, self.recorder, self._keys["skipped"]
        while True:
            if not line or not self.up or self.crashed:
                wake = env.event()
                self._idle.append(wake)
                yield wake
                continue
            call = line.popleft()
            if call.caller_gave_up:
                recorder.count(skipped)
                continue
            self._current[slot] = call
            self.busy += 1
            try:
                outcome = yield from self._handle(call, slot)
            except simpy.Interrupt:  # down or crashed: the fault hook dealt with the call
                continue
            finally:
                self.busy -= 1
                self._current[slot] = None
                self._pending[slot] = None
            self._finish(call, outcome)

    def _handle(self, call: Call, slot: int) -> Generator[Any, Any, Outcome]:
        if self.provider is not None:
            return (yield from self._send(call, self.provider))
        env = self.env
        yield env.timeout(self._service_time() * self.slowdown)
        if self.error_probability and self._errors() < self.error_probability:
            return ERROR
        msg = call.msg
        callees = self._callees
        for callee in callees.get(None) or callees.get(msg.kind, ()):
            outcome = yield from self._call(callee, call, slot)
            if outcome is not OK:
                return ERROR
        publishers = self._publish
        if publishers:
            ports = publishers.get(None) or publishers.get(msg.kind)
            if not ports:
                return OK  # nothing to publish for this kind of request
            root = call.root
            if root.caller_gave_up and not root.handed_off:
                return ERROR  # its client gave up: publishing would do work nobody awaits
            root.handed_off = True
            for i, publish in enumerate(ports):
                copy = msg
                if i:  # one copy per destination, as a fan-out exchange makes them
                    copy = msg.copy()
                    self.recorder.copied(copy)
                if not publish(copy):
                    return ERROR  # refused by the broker (reject-publish), which recorded it
        return OK

    def _send(self, call: Call, provider: Deliveries) -> Generator[Any, Any, Outcome]:
        """A provider sends one notification (or answers from its idempotency keys)."""
        env, msg = self.env, call.msg
        if provider.idempotent:
            state = provider.key_state(msg, env.now)
            if state == "sending":
                return ERROR  # 409 Conflict: the same key is being sent right now
            if state == "sent":
                return OK  # the first send's answer, replayed at once: nothing is sent again
        done = False
        try:
            yield env.timeout(self._service_time() * self.slowdown)
            if self.error_probability and self._errors() < self.error_probability:
                return ERROR  # the send failed: nothing went out
            provider.sent(msg, env.now)
            done = True
            return OK
        finally:
            if provider.idempotent and not done:  # failed or interrupted (down, crash)
                provider.abandon_key(msg)

    def _finish(self, call: Call, outcome: Outcome) -> None:
        recorder = self.recorder
        if outcome is not OK:
            recorder.count(self._keys["errors"])
        if call.delivery:  # its consumer replica acks, or does what its broker does
            call.answer(outcome)
            return
        if call.caller_gave_up:
            recorder.count(self._keys["late"])
        call.answer(outcome)

    # ----- calling downstream -----
    def _call(self, callee: Service, parent: Call, slot: int) -> Generator[Any, Any, Outcome]:
        """One downstream call with its retries; the worker stays busy throughout."""
        env, recorder, config = self.env, self.recorder, self.config
        retries, timeout = config.retries, config.timeout
        breaker = self.breakers.get(callee.name)
        outcome = ERROR
        retry_after = 0.0
        for attempt in range(retries.max + 1):
            if attempt:
                recorder.count(f"retries.{callee.name}")
                yield env.timeout(max(self._backoff(attempt), retry_after))
            if breaker is not None and not breaker.allow(env.now):
                recorder.count(f"breaker_open.{callee.name}")
                return OPEN
            sub = Call(parent.msg, env.now, parent.root, self._answered)
            sub.event = event = env.event()
            self._pending[slot] = sub
            callee.submit(sub)
            if timeout is not None and not event.triggered:
                timer = env.timeout(timeout)
                timer.callbacks.append(lambda _t, s=sub: self._time_out(s))
            outcome = yield event
            self._pending[slot] = None
            callee.view.record(outcome is OK, env.now - sub.sent_at)
            if breaker is not None:
                breaker.record(outcome is OK, env.now)
            if outcome is OK:
                return OK
            if outcome is TIMEOUT:
                recorder.count(f"timeouts.{callee.name}")
            retry_after = sub.retry_after if outcome is THROTTLED else 0.0
        return outcome

    def _on_downstream_answer(self, call: Call, outcome: Outcome) -> None:
        event = call.event
        if event is not None and not event.triggered:
            event.succeed(outcome)

    def _time_out(self, call: Call) -> None:
        event = call.event
        if event is not None and not event.triggered:
            call.caller_gave_up = True
            event.succeed(TIMEOUT)

    def _backoff(self, attempt: int) -> float:
        retries = self.config.retries
        uniform = self._jitter() if retries.jitter != "none" else 0.0
        return backoff_delay(
            attempt,
            retries.backoff,
            retries.multiplier,
            retries.max_backoff,
            retries.jitter,
            uniform,
        )

    # ----- fault hooks (sim/faults.py) -----
    def go_down(self) -> None:
        """Hang: work in progress stops and goes back to the head of the line; nothing is
        answered, and calls keep piling up in the line until the service comes back."""
        self.up = False
        for slot, call in enumerate(self._current):
            if call is None:
                continue
            self._abandon_downstream(slot)
            self.line.appendleft(call)
            self._processes[slot].interrupt("down")

    def come_up(self) -> None:
        self.up = True
        self._wake_all()

    def crash(self) -> None:
        """Die: every held call is answered with a connection error at once, new calls are
        refused; the consumer channel closes, so the broker requeues its unacked messages."""
        self.crashed = True
        held = [call for call in self._current if call is not None]
        for slot, call in enumerate(self._current):
            if call is not None:
                self._abandon_downstream(slot)
                self._processes[slot].interrupt("crash")
        held.extend(self.line)
        self.line.clear()
        for replica in self.consumers:  # its connections drop: the broker takes back what it
            replica.crash()  # had not acked; with auto-ack what the service held is lost
        for call in held:
            if call.delivery:
                call.caller_gave_up = True  # its replica died with the service
            else:
                call.answer(ERROR)

    def restart(self) -> None:
        self.crashed = False
        for replica in self.consumers:
            replica.restart()
        self._wake_all()

    def set_slowdown(self, factor: float) -> None:
        self.slowdown = factor

    def set_error_probability(self, probability: float) -> None:
        self.error_probability = probability

    def _abandon_downstream(self, slot: int) -> None:
        pending = self._pending[slot]
        if pending is not None:
            pending.caller_gave_up = True  # its answer, if any, will find nobody listening
