"""A producer on an unreliable network: publishes lost on the way, confirms lost on the way
back, and a producer that republishes when its confirm does not come.

With publisher confirms the broker acknowledges each message it has taken responsibility for
(RabbitMQ "Consumer Acknowledgements and Publisher Confirms"). When no confirm comes, the
producer cannot tell a message the broker never got (`publish_loss_probability`: the
connection dropped on the way) from a confirm that was lost on the way back
(`confirm_loss_probability`: the broker has the message). It either gives up (`retry_after`
unset: the first case loses the message) or publishes again after `retry_after` (the second
case puts two copies of one logical message in the queue). No choice makes both zero: this is
why exactly-once *delivery* cannot be promised over such a network (the Two Generals problem).

A republished copy keeps the message's id, its logical identity (as an application-set
`message_id` property would), so the effect ledger counts it against the same entry and a dedup
store recognises it. For conservation it is one more copy (`recorder.copied`), as a routed
fan-out copy is; a publish lost on the way ends as `lost`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.distributions import Sampler
from sim.message import Message

if TYPE_CHECKING:
    from sim.clients.config import ProducerBase as ProducerConfig
    from sim.context import RunContext

__all__ = ["republishing"]

Send = Callable[[Message], Any]


def republishing(ctx: RunContext, config: ProducerConfig, send: Send) -> Send:
    """`send` as it is, or wrapped so that publishes and confirms get lost with the producer's
    probabilities, and (with `retry_after`) a message whose confirm did not come is published
    again, its copy facing the same odds. Each attempt draws once: it is lost on the way, its
    confirm is lost, or all goes well."""
    lose_publish = config.publish_loss_probability
    lose_confirm = lose_publish + config.confirm_loss_probability
    if lose_confirm <= 0:
        return send
    env, recorder, name = ctx.env, ctx.recorder, config.name
    retry_after = config.retry_after
    rng = ctx.streams.generator(f"producer:{name}/publish_loss")
    draw = Sampler(lambda n: rng.random(n).tolist())

    def publish(msg: Message) -> None:
        u = draw()
        if u >= lose_confirm:
            send(msg)
            return
        if retry_after is not None:
            twin = msg.copy()  # before the broker stamps its own fields on the original
            env.timeout(retry_after).callbacks.append(lambda _event: republish(twin))
        if u < lose_publish:
            recorder.count("publishes_lost")
            recorder.lost(msg, name)
        else:
            recorder.count("confirms_lost")
            send(msg)

    def republish(twin: Message) -> None:
        recorder.copied(twin)
        recorder.count("republished")
        publish(twin)

    return publish
