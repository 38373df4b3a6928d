"""The Redis Streams model: streams, consumer groups and their pending entries in simulated
time (redis-server 7.0 semantics), with redis-py's command names."""

from sim.brokers.redis_streams.commands import WouldBlock
from sim.brokers.redis_streams.server import RedisStreamsServer, ResponseError, parse_id
from sim.brokers.redis_streams.stream import Group, Nack, Stream, StreamId, format_id

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
