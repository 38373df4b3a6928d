"""How services reach the broker: publish a request, consume a queue, read its depth.

A broker runtime (sim/brokers/base.py) is the port: every broker publishes; a broker whose
spec allows service consumers (`BrokerSpec.service_consumers`) also subscribes and tells ready
counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sim.message import Message

__all__ = ["BrokerPort"]


class BrokerPort(Protocol):
    def publisher(self, to: str, routing_key: str) -> Callable[[Message], bool]: ...
    def subscribe(
        self, name: str, queue: str, prefetch: int, auto_ack: bool, on_message: Any
    ) -> Any: ...
    def ready(self, queue: str) -> int: ...
