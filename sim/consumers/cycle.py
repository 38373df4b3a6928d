"""The consumer cycle every broker's consumer replicas run: receive, process, effect, acknowledge.

A broker's consumer subclasses `ConsumerReplica` and supplies the system's native verbs; the
cycle, its fault hooks and its delivery guarantees are the same on every broker:

    take() -> a batch of deliveries ready now, or nothing      (native: a prefetch buffer, a poll)
    fetch()                  a generator that waits until take() may have something
    message(d)               the Message a delivery carries
    begin_batch / end_batch  per-batch steps (Kafka commits offsets per poll)
    settle(d)                the acknowledgement after processing (basic.ack, DeleteMessage, XACK)
    settle_early(d)          at most once: the acknowledgement before processing
    reject(d) -> bool        processing failed: the native consequence; True to retry in place
    finish(d)                the application finished it (the Recorder counts it processed)
    drop()                   a crash's native consequence (a channel closes, a session ends)
    reconnect()              what a restart does before the cycle runs again
    ack_lost(d)              the ack never reached the broker (RabbitMQ: the connection breaks)

With a retry policy (`retry:`, sim/consumers/retry.py) three more verbs, the system's own way:

    attempt(d) -> int        which try of its message this delivery is (1: the first)
    retry_later(d, delay)    hand it back to be delivered again `delay` from now
    dead_letter(d)           its tries are spent: to the dead letters

A delivery the broker has forgotten while the replica holds it (auto-ack, or acknowledged
early) is lost if the replica crashes before finishing it; anything else the broker still has
goes back by the system's own rules (requeue, visibility timeout, pending entries, offsets).

Policies hook into this class, never into a broker's code: a rate limit into `before_work`
(one token per try), a consumer's calls to providers into the processing (sim/consumers/
calls.py), a retry policy into what a failed try does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from heapq import heappush
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import NORMAL, Timeout

from sim.clients.disturbance import Disturbance
from sim.consumers.calls import ProviderCalls
from sim.consumers.guarantee import Crashed, GuaranteeRun
from sim.consumers.ratelimit import TokenBucket
from sim.consumers.retry import RetryPolicy
from sim.message import Message, State

if TYPE_CHECKING:
    from sim.clients.config import ConsumerBase
    from sim.context import RunContext

__all__ = ["FETCH", "ConsumerReplica"]

#: What a first `fetch_event` call answers when this wait is not one it makes (see there).
FETCH = object()


class ConsumerReplica(Disturbance):
    """One replica of a scenario consumer, running the shared cycle."""

    #: The broker acknowledges a whole batch at once (Kafka's offset commit): a crash "after the
    #: ack" then waits for end_batch.
    acks_per_batch = False
    #: The broker forgets a delivery as soon as it sends it (auto-ack, NOACK, delete on receipt).
    forgets_on_delivery = False
    #: `checks_failures()` gives the same answer for the whole of a cycle's run (it reads
    #: settings fixed when the replica is made): the cycle asks it once, not once a message.
    fixed_failure_checks = False
    #: A subclass overriding `fetch_event` has the cycle wait on its events; False (which a
    #: replica may set for itself before its cycle starts, when its waits are not of that
    #: kind) has the cycle run `fetch` instead.
    waits_by_event = True
    #: A subclass overriding `fetch_event` whose wait is always one event, after which
    #: `take()` may have something, may set this: its `take()`, when it answers nothing and
    #: `waits_by_event` holds, leaves that event in `take_wait`, and the cycle waits on it and
    #: takes again, with no `fetch_event` call (speed: two calls an idle wait fewer). False
    #: has the cycle ask `fetch_event`.
    take_waits = False
    take_wait: simpy.Event | None = None

    def init_replica(
        self,
        ctx: RunContext,
        config: ConsumerBase,
        replica: int,
        source: str,
        name: str | None = None,
        error_probability: float = 0.0,
        owner: str | None = None,
    ) -> None:
        """Set up the generic parts; call from the subclass's __init__ before starting run().
        `owner` names the replica's random streams (default: its consumer and index, stable
        when replicas are added); a broker running more replicas for one consumer (Kafka's
        retry-topic consumers) gives them owners of their own."""
        self.env = ctx.env
        self.recorder = ctx.recorder
        self.config = config
        self.replica = replica
        self.name = name or (config.name if config.replicas == 1 else f"{config.name}.{replica}")
        self.owner = owner or f"consumer:{config.name}.{replica}"
        self.service_time = ctx.sampler(f"{self.owner}/service", config.service_time)
        self.init_disturbance(ctx, self.owner, error_probability)
        shared = ctx.effects.get(config.name) if ctx.effects else None
        self.guarantee = (
            GuaranteeRun(ctx, shared, self.owner, self.name) if shared is not None else None
        )
        self.reader = ctx.recorder.reader(self.name, config.name, source)
        self.limiter: TokenBucket | None = None
        if config.rate_limit is not None:  # one bucket for all the consumer's replicas
            key = f"rate_limit:{config.name}"
            if key not in ctx.shared:
                ctx.shared[key] = TokenBucket(config.rate_limit, config.burst)
            self.limiter = ctx.shared[key]
        # Providers its processing calls, and what it does when a try fails.
        self.calls = ProviderCalls(ctx, config) if config.calls else None
        self.retry = (
            RetryPolicy(ctx, config.retry, self.owner, config.name)
            if config.retry is not None
            else None
        )
        self.waiting: deque[Any] = deque()  # taken in this batch, not started yet
        # What processing is, when not the consumer's own service time: a service taking the
        # delivery (sim/services/): an event that fires with True when it succeeded.
        self.work: Callable[[Message], simpy.Event] | None = None
        self.current: Any = None  # the delivery being worked on
        self.current_forgotten = False  # ... and the broker no longer has it
        self.crashed = False
        self.process: simpy.Process | None = None

    def start(self) -> None:
        self.process = self.env.process(self.run())

    # ----- native verbs (a broker's consumer overrides these) -----
    def take(self) -> list[Any] | None:
        raise NotImplementedError

    def fetch(self) -> Generator[Any, Any, None]:
        raise NotImplementedError

    def fetch_event(self) -> simpy.Event | object | None:
        """`fetch` one wait at a time, for a broker whose `fetch` only waits on events in a
        loop: the next event to wait on, or None once `take()` may have something. The cycle
        waits on these instead of running `fetch` when a subclass overrides this (speed: no
        generator made and resumed through `yield from` each time the replica waits). A first
        call (not one after a wait) may answer `FETCH`: the cycle then runs `fetch` instead,
        this time."""
        raise NotImplementedError

    def message(self, delivery: Any) -> Message:
        raise NotImplementedError

    def begin_batch(self, batch: list[Any]) -> None:
        """Before a batch is processed (default: nothing)."""

    def end_batch(self, batch: list[Any]) -> Generator[Any, Any, None] | None:
        """After a batch is processed; may return a generator to wait on (default: nothing)."""
        return None

    def settle(self, delivery: Any) -> None:
        """The acknowledgement after processing (default: nothing, the broker forgot it)."""

    def settle_early(self, delivery: Any) -> bool:
        """At most once: acknowledge on receipt, before processing. True when the broker has
        forgotten the delivery at once; a broker whose ack travels may set
        `current_forgotten` itself when it lands."""
        self.settle(delivery)
        return True

    def reject(self, delivery: Any) -> bool:
        """Processing failed: do what the system does with it. True retries it in place."""
        return False

    def finish(self, delivery: Any) -> None:
        self.recorder.processed(self.message(delivery), self.name)

    def fails(self, delivery: Any) -> bool:
        """Does this processing fail? (The error fault's probability; a broker may add its own
        reasons, such as RabbitMQ's poison header.)"""
        return self.failed()

    def checks_failures(self) -> bool:
        """Whether `fails` must be asked even with no error probability."""
        return False

    def drop(self) -> None:
        """A crash's native consequence (default: nothing; the broker notices by itself).
        `self.waiting` still holds the batch's deliveries not started yet."""

    def reconnect(self) -> None:
        """What a restart does before the cycle runs again (default: nothing)."""

    def ack_lost(self, delivery: Any) -> None:
        """The ack never reaches the broker: by default it simply is not sent, and the system
        redelivers by its own rules; RabbitMQ's connection breaks instead."""

    def interrupted(self) -> None:
        """The process was interrupted by a crash fault (default: nothing more to do)."""

    def attempt(self, delivery: Any) -> int:
        """Which try of its message this delivery is, by the system's own count (1: the
        first). A broker that runs retry policies overrides it."""
        return 1

    def retry_later(self, delivery: Any, delay: float) -> None:
        """Retry policy: hand the delivery back to be delivered again `delay` from now."""
        raise NotImplementedError(f"{type(self).__name__} runs no retry policy")

    def dead_letter(self, delivery: Any) -> None:
        """Retry policy: the message's tries are spent; send it to the dead letters."""
        raise NotImplementedError(f"{type(self).__name__} runs no retry policy")

    def before_work(self, delivery: Any) -> Generator[Any, Any, None] | None:
        """The wait before processing: the consumer's rate limit, when it has one and no
        token is free (a generator to wait on, else None: no event at all)."""
        limiter = self.limiter
        if limiter is None:
            return None
        delay = limiter.reserve(self.env.now)
        return self._wait(delay) if delay > 0 else None

    def _wait(self, delay: float) -> Generator[Any, Any, None]:
        yield self.env.timeout(delay)

    # ----- the cycle -----
    def run(self) -> Generator[Any, Any, None]:
        take, fetch, handle = self.take, self.fetch, self.handle
        guarantee = self.guarantee
        timeout, service_time = self.env.timeout, self.service_time
        # No calls to providers, no retry policy: the usual delivery can take the inlined
        # path below. A subclass's own wait before processing (Kafka's retry-topic records
        # waiting to be due) is asked there, as `handle` asks it; the base one only waits for
        # the rate limit, which takes `handle`'s path.
        plain = self.calls is None and self.retry is None
        own_wait = type(self).before_work is not ConsumerReplica.before_work
        # Speed: the verbs a subclass leaves as they are do nothing here (begin_batch,
        # end_batch), answer False (checks_failures) or only tell the Recorder (finish): the
        # inlined path below skips those calls, two to four a message. Compared with the
        # original functions (`_BASE`), so a verb patched on ConsumerReplica itself still runs.
        kind = type(self)
        own_begin = kind.begin_batch is not _BASE["begin_batch"]
        own_end = kind.end_batch is not _BASE["end_batch"]
        own_checks = kind.checks_failures is not _BASE["checks_failures"]
        checked = False  # what a fixed `checks_failures` answers
        if own_checks and self.fixed_failure_checks:
            # Speed: asked once (see the class attribute), not once a message.
            checked, own_checks = self.checks_failures(), False
        own_fetch_event = kind.fetch_event is not _BASE["fetch_event"] and self.waits_by_event
        take_waits = own_fetch_event and self.take_waits
        own_finish = kind.finish is not _BASE["finish"]
        own_settle = kind.settle is not _BASE["settle"]  # speed: the base one does nothing
        message, processed, name = self.message, self.recorder.processed, self.name
        env = self.env
        queue, eid = env._queue, env._eid  # speed: SimPy's own fields (sim/timer.py)
        # The re-armed service timer: a Timeout (a broker may ask whether its replica was
        # resumed by a timeout, as Pulsar's read_at_once does), never scheduled by its own
        # __init__: a timeout's value and outcome, not pending until armed.
        served = Timeout.__new__(Timeout)
        served.env, served._delay = env, 0.0
        served._ok, served._value, served.callbacks = True, None, None
        try:
            while True:
                if self._paused:
                    yield from self.wait_while_down()
                batch = take()
                if not batch:
                    if take_waits:  # the one wait `take()` left (see `take_waits`)
                        yield self.take_wait
                    elif own_fetch_event:  # the same waits as `yield from fetch()`
                        wait = self.fetch_event()
                        if wait is FETCH:  # not a wait of that kind this time
                            yield from fetch()
                            continue
                        while wait is not None:
                            yield wait
                            wait = self.fetch_event()
                    else:
                        yield from fetch()
                    continue
                if guarantee is None:
                    if own_begin:
                        self.begin_batch(batch)
                    waiting_list = self.waiting
                    waiting_list.extend(batch)
                    while waiting_list:
                        delivery = waiting_list.popleft()
                        if not plain or self.limiter is not None or self.work is not None:
                            yield from handle(delivery)
                            continue
                        # Speed: `handle` inlined for the usual delivery (no rate limit, no
                        # service doing the work, no calls, no retry policy): no generator
                        # per message. The same steps and the same events as `handle`;
                        # `_retry`, its loop for a failed try, takes over when one fails.
                        self.current = delivery
                        self.current_forgotten = self.forgets_on_delivery
                        if own_wait:
                            before = self.before_work(delivery)
                            if before is not None:
                                yield from before
                        delay = service_time() * self.slowdown
                        if served.callbacks is None:
                            # Speed: the service time waits on one re-armed event (see
                            # sim/timer.py), not a new Timeout: the same queue entry that
                            # `timeout(delay)` schedules, without its two calls and its
                            # object. Still pending after an interrupt (a crash left it in
                            # the queue): a new Timeout then, as before.
                            served.callbacks = []
                            heappush(queue, (env._now + delay, NORMAL, next(eid), served))
                            yield served
                        else:
                            yield timeout(delay)
                        if (
                            self.error_probability
                            or checked
                            or (own_checks and self.checks_failures())
                        ) and self.fails(delivery):
                            yield from self._retry(delivery)
                            continue
                        self.current = None
                        if own_finish:
                            self.finish(delivery)
                        else:  # what the base `finish` does, without its call
                            processed(message(delivery), name)
                        if own_settle:
                            self.settle(delivery)
                    if own_end:
                        waiting = self.end_batch(batch)
                        if waiting is not None:
                            yield from waiting
                else:
                    self.begin_batch(batch)
                    yield from self.handle_guaranteed(batch, guarantee)
        except Crashed as crash:
            self._crashed_inside(crash)
        except simpy.Interrupt:
            self.interrupted()

    def handle(self, delivery: Any) -> Generator[Any, Any, None]:
        """Process one delivery and acknowledge it: the cycle without a guarantee. Each try
        waits for the rate limit, then is the service time and the calls to providers (or
        the service's work); a failed try goes to the retry policy, else to `reject`."""
        env, recorder = self.env, self.recorder
        timeout, service_time = env.timeout, self.service_time
        self.current = delivery
        self.current_forgotten = self.forgets_on_delivery
        work, calls, retry = self.work, self.calls, self.retry
        msg = self.message(delivery)
        in_place = 0  # tries made here after the first (blocking retries, Kafka's reject)
        while True:
            waiting = self.before_work(delivery)
            if waiting is not None:
                yield from waiting
            started = env.now
            outcome = "error"
            if work is not None:
                ok = yield work(msg)  # the service's answer: success
            else:
                yield timeout(service_time() * self.slowdown)
                ok = not (
                    (self.error_probability or self.checks_failures()) and self.fails(delivery)
                )
                if ok and calls is not None:
                    ok = yield from calls.run(msg)
                    if not ok:
                        outcome = calls.outcome.name.lower()
            if ok:
                if retry is not None:
                    retry.succeeded(msg, self.attempt(delivery) + in_place, started, env.now)
                break
            recorder.count("consumer_failures")
            recorder.failed(msg, self.name)
            if self.current_forgotten:  # the broker forgot it: nobody retries it
                recorder.lost(msg, self.name)
                self.current = None
                return
            if retry is not None:
                attempt = self.attempt(delivery) + in_place
                if attempt >= retry.attempts:
                    retry.exhausted(msg, attempt, started, env.now, outcome)
                    self.current = None
                    self.dead_letter(delivery)
                    return
                wait = retry.delay(attempt, calls.retry_after if calls is not None else 0.0)
                retry.scheduled(msg, attempt, started, env.now, outcome, wait)
                if retry.blocking:  # in place: the replica holds the message meanwhile
                    yield timeout(wait)
                    in_place += 1
                    continue
                self.current = None
                self.retry_later(delivery, wait)
                return
            if not self.reject(delivery):
                self.current = None
                return
            in_place += 1  # retried in place
        self.current = None
        self.finish(delivery)
        self.settle(delivery)

    def _retry(self, delivery: Any) -> Generator[Any, Any, None]:
        """The first try of `delivery` failed on the cycle's inlined path in `run` (no rate
        limit, no service doing the work, no calls, no retry policy): the rest of `handle`'s
        loop for that case, step for step."""
        timeout, service_time, recorder = self.env.timeout, self.service_time, self.recorder
        while True:
            recorder.count("consumer_failures")
            recorder.failed(self.message(delivery), self.name)
            if self.current_forgotten:  # the broker forgot it: nobody retries it
                recorder.lost(self.message(delivery), self.name)
                self.current = None
                return
            if not self.reject(delivery):
                self.current = None
                return
            before = self.before_work(delivery)  # retried in place: each try waits as the first
            if before is not None:
                yield from before
            yield timeout(service_time() * self.slowdown)
            if not ((self.error_probability or self.checks_failures()) and self.fails(delivery)):
                break
        self.current = None
        self.finish(delivery)
        self.settle(delivery)

    def handle_guaranteed(
        self, batch: list[Any], guarantee: GuaranteeRun
    ) -> Generator[Any, Any, None]:
        """Process a batch applying each message's effect under the guarantee's strategy,
        crashing where its plan says."""
        timeout, service_time, recorder = self.env.timeout, self.service_time, self.recorder
        first = guarantee.acks_first
        crash_after_batch: str | None = None
        waiting_list = self.waiting
        waiting_list.extend(batch)
        msg: Message | None = None
        while waiting_list:
            delivery = waiting_list.popleft()
            msg = self.message(delivery)
            self.current = delivery
            self.current_forgotten = self.forgets_on_delivery
            point = guarantee.crash_point(msg.id)
            if first and not self.forgets_on_delivery and not self.acks_per_batch:
                if guarantee.plan.ack_lost():
                    recorder.count("acks_lost")
                    self.ack_lost(delivery)
                    raise Crashed("disconnected", "ack lost", msg.id)
                if self.settle_early(delivery):
                    self.current_forgotten = True
            if point == "before-processing" or (first and point == "after-ack"):
                raise Crashed("crash", point, msg.id)
            waiting = self.before_work(delivery)
            if waiting is not None:
                yield from waiting
            work = service_time() * self.slowdown
            if point == "during-processing":
                yield timeout(work * guarantee.plan.fraction())
                raise Crashed("crash", point, msg.id)
            yield timeout(work)
            failed = False
            while (self.error_probability or self.checks_failures()) and self.fails(delivery):
                recorder.count("consumer_failures")
                if self.current_forgotten:  # acknowledged already: nobody retries it
                    recorder.lost(msg, self.name)
                    failed = True
                    break
                if not self.reject(delivery):
                    failed = True
                    break
                yield timeout(service_time() * self.slowdown)
            if failed:
                self.current = None
                continue
            applied = yield from self.apply_effect(delivery, msg, point == "after-effect")
            if not applied:  # the idempotent consumer's gap: effect done, id not recorded
                raise Crashed("crash", "after-effect", msg.id)
            self.current = None
            self.finish(delivery)
            if point in ("after-effect", "after-processing"):
                raise Crashed("crash", point, msg.id)
            if first:
                continue
            if self.acks_per_batch:
                if point == "after-ack":
                    crash_after_batch = point
                continue
            if guarantee.plan.ack_lost():
                recorder.count("acks_lost")
                self.ack_lost(delivery)
                raise Crashed("disconnected", "ack lost", msg.id)
            self.settle(delivery)
            if point == "after-ack":  # the effect is durable already: nothing to lose
                raise Crashed("crash", point, msg.id)
        waiting = self.end_batch(batch)
        if waiting is not None:
            yield from waiting
        if crash_after_batch is not None and msg is not None:  # offsets and effects are
            raise Crashed("crash", crash_after_batch, msg.id)  # durable: nothing to lose

    def apply_effect(
        self, delivery: Any, msg: Message, crash_in_gap: bool
    ) -> Generator[Any, Any, bool]:
        """The guarantee's effect step (a broker may apply effects its own way, as Kafka's
        transactions do)."""
        assert self.guarantee is not None
        return (yield from self.guarantee.step.run(msg.id, crash_in_gap))

    # ----- crashes -----
    def _crashed_inside(self, crash: Crashed) -> None:
        """A crash point of the guarantee's plan (or a lost ack) struck inside the cycle: the
        replica dies now and comes back `restart_after` later."""
        guarantee = self.guarantee
        assert guarantee is not None
        recorder = self.recorder
        if crash.kind == "crash":
            recorder.count("crashes")
            recorder.count(f"crashes.{crash.point}")  # by point of the cycle
        else:
            recorder.count("disconnections")
        journal = guarantee.journal
        if journal is not None:
            what = f"{crash.kind} ({crash.point})"
            journal.append((self.env.now, crash.message_id, what, self.name, -1))
        recorder.event(self.name, f"{crash.kind} start")
        self.crash()
        timer = self.env.timeout(guarantee.restart_after())
        timer.callbacks.append(lambda _event: self._come_back(crash.kind))

    def _come_back(self, kind: str) -> None:
        self.recorder.event(self.name, f"{kind} end")
        self.restart()

    # ----- fault hooks (sim/faults.py) -----
    def crash(self) -> None:
        """The replica dies at once. What the broker had forgotten while the replica held it is
        lost; the rest goes back to the broker by the system's rules (drop())."""
        if self.crashed:
            return
        self.crashed = True
        current = self.current
        if current is not None and self.current_forgotten:
            msg = self.message(current)
            if msg.state is State.LIVE:
                self.recorder.lost(msg, self.name)
        self.current = None
        self.drop()
        self.waiting.clear()
        process = self.process
        if process is not None and process.is_alive and process is not self.env.active_process:
            process.interrupt("crash")

    def restart(self) -> None:
        """Come back after a crash: reconnect, and run the cycle again."""
        if not self.crashed:
            return
        self.crashed = False
        self.reconnect()
        self.start()


# The base class's own verbs, as defined above: `run` skips a call to one a subclass leaves
# as it is (see there).
_BASE = {
    verb: ConsumerReplica.__dict__[verb]
    for verb in ("begin_batch", "end_batch", "checks_failures", "finish", "settle", "fetch_event")
}
