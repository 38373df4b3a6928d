"""The Redis Streams model: streams, consumer groups and their pending entries in simulated
time (redis-server 7.0 semantics), with redis-py's command names."""

from sim.brokers.redis.commands import WouldBlock
from sim.brokers.redis.server import RedisStreamsServer, ResponseError, parse_id
from sim.brokers.redis.stream import Group, Nack, Stream, StreamId, format_id

__all__ = [
    "Group",
    "Nack",
    "RedisStreamsServer",
    "ResponseError",
    "Stream",
    "StreamId",
    "WouldBlock",
    "format_id",
    "parse_id",
]
