"""A RabbitMQ consumer replica that applies side effects under a delivery-guarantee strategy.

It is the scenario consumer (`QueueConsumer`) with another work cycle; the broker, the channel
and the fault hooks are the same, so what a crash does to the queue is what RabbitMQ does: the
channel closes and the broker requeues every unacknowledged delivery, `redelivered`
(AMQP 0-9-1 section 4.7; RabbitMQ "Consumer Acknowledgements and Publisher Confirms"), while a
delivery already acknowledged (auto-ack, or acked on receipt) is gone with the consumer.

The cycle, per delivery:

    receive -> [at-most-once: ack] -> process -> effect step (strategies.py) -> processed
            -> [otherwise: ack] ; a crash may strike at any point named in config.py
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.rabbitmq.runtime import QueueConsumer
from sim.guarantees.failures import CrashPlan
from sim.guarantees.strategies import EffectStep, SharedEffects
from sim.message import Message, State

if TYPE_CHECKING:
    from sim.brokers.rabbitmq.broker import RabbitMQBroker
    from sim.brokers.rabbitmq.channel import Channel
    from sim.clients.config import ConsumerBase as ConsumerConfig
    from sim.context import RunContext

__all__ = ["GuaranteedConsumer"]


class GuaranteedConsumer(QueueConsumer):
    """One replica of a consumer with a `guarantee:` section."""

    def __init__(
        self,
        ctx: RunContext,
        broker: RabbitMQBroker,
        config: ConsumerConfig,
        replica: int,
        shared: SharedEffects,
    ) -> None:
        super().__init__(ctx, broker, config, replica)  # the worker starts at the next step
        guarantee = shared.config
        owner = f"consumer:{config.name}.{replica}"
        self.strategy = guarantee.strategy
        self.ack_first = guarantee.strategy == "at-most-once"
        self.plan = CrashPlan(guarantee, ctx.streams, owner, shared.crash_on)
        self.step = EffectStep(
            ctx.env,
            shared,
            ctx.recorder,
            ctx.sampler(f"{owner}/guarantee/store", guarantee.store_round_trip),
            self.name,
            ideal=guarantee.store_round_trip.kind == "constant"
            and guarantee.store_round_trip.params[0] == 0.0,
        )
        self.restart_after = ctx.sampler(f"{owner}/guarantee/restart", guarantee.restart_after)
        self._journal = shared.ledger.journal
        self._acked_in_hand = False  # the ack of the message in hand (at most once) has landed

    # ----- the work cycle -----
    def run(self) -> Generator[Any, Any, None]:
        env, buffer, recorder, name = self.env, self.buffer, self.recorder, self.name
        timeout, plan, step = env.timeout, self.plan, self.step
        ack_first, auto_ack, ack_link = self.ack_first, self.auto_ack, self._ack_link
        channel = self.channel  # acks travel on the channel they were sent on
        crashes = plan.active
        checks_failures = self.config.poison_header is not None
        try:
            while True:
                if not buffer or self._paused:  # a generator only when it must wait
                    yield from self.wait_for_work()
                tag, msg = buffer.popleft()
                self._current = msg
                self._acked_in_hand = auto_ack
                point = plan.crash_point(msg.id) if crashes else None
                if ack_first and not auto_ack:
                    if plan.ack_lost():  # never reaches the broker, which requeues it
                        recorder.count("acks_lost")
                        yield self._fail("disconnected", "ack lost", msg)
                    ack_link.send(self._ack_on_receipt, channel, tag, msg)
                if point == "before-processing" or (ack_first and point == "after-ack"):
                    yield self._fail("crash", point, msg)
                work = self.service_time() * self.slowdown
                if point == "during-processing":
                    yield timeout(work * plan.fraction())
                    yield self._fail("crash", point, msg)
                yield timeout(work)
                if (checks_failures or self.error_probability) and self._fails(msg):
                    recorder.count("consumer_failures")
                    self._current = None
                    if ack_first:
                        recorder.lost(msg, name)  # acknowledged already: nobody retries it
                    else:
                        ack_link.send(self._settle_on, channel, tag, False)
                    continue
                applied = yield from step.run(msg.id, point == "after-effect")
                if not applied:  # the idempotent consumer's gap: effect done, id not recorded
                    yield self._fail("crash", point, msg)
                recorder.processed(msg, name)
                self._current = None
                if point in ("after-effect", "after-processing"):
                    yield self._fail("crash", point, msg)
                if ack_first:
                    continue
                if plan.ack_lost():
                    recorder.count("acks_lost")
                    yield self._fail("disconnected", "ack lost", msg)
                ack_link.send(self._settle_on, channel, tag, True)
                if point == "after-ack":  # the effect is durable already: nothing to lose
                    yield self._fail("crash", point, msg)
        except simpy.Interrupt:
            return

    def _ack_on_receipt(self, channel: Channel, tag: int, msg: Message) -> None:
        """At most once: the ack sent on receipt reaches the broker; from now on a crash
        loses the message rather than returning it to the queue."""
        if channel.is_open:
            channel.basic_ack(tag)
            if self._current is msg:
                self._acked_in_hand = True

    def _settle_on(self, channel: Channel, tag: int, ok: bool) -> None:
        """An ack or nack reaches the broker, if the channel it was sent on still exists (one
        sent before a crash never arrives: the broker requeued the message when the channel
        closed)."""
        if channel.is_open:
            if ok:
                channel.basic_ack(tag)
            else:
                channel.basic_nack(tag, requeue=self.config.requeue)

    # ----- failing and coming back -----
    def _fail(self, kind: str, detail: str | None, msg: Message) -> simpy.Event:
        """Fail now: the crash runs as soon as this process yields (a process cannot interrupt
        itself), and the consumer comes back `restart_after` later. Returns an event that
        never fires, for the worker to wait on until the crash interrupts it."""
        if kind == "crash":
            self.recorder.count("crashes")
            self.recorder.count(f"crashes.{detail}")  # by point of the cycle
        else:
            self.recorder.count("disconnections")
        if self._journal is not None:
            what = f"{kind} ({detail})" if detail else kind
            self._journal.append((self.env.now, msg.id, what, self.name, -1))
        self.env.timeout(0).callbacks.append(lambda _event: self._down_for_a_while(kind))
        return self.env.event()

    def _down_for_a_while(self, kind: str) -> None:
        if not self.channel.is_open:
            return  # a fault crashed it at this very instant: the fault brings it back
        self.recorder.event(self.name, f"{kind} start")
        self.crash()
        self.env.timeout(self.restart_after()).callbacks.append(
            lambda _event: self._come_back(kind)
        )

    def _come_back(self, kind: str) -> None:
        self.recorder.event(self.name, f"{kind} end")
        self.restart()

    def crash(self) -> None:
        """As QueueConsumer.crash; and a message acknowledged on receipt (at most once) but not
        processed yet is lost: the broker has forgotten it and the consumer died with it."""
        current = self._current
        if (
            self.channel.is_open
            and not self.auto_ack
            and self.ack_first
            and current is not None
            and self._acked_in_hand
            and current.state is State.LIVE
        ):
            self.recorder.lost(current, self.name)
            self._current = None
        super().crash()
