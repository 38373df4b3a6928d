"""How services reach the broker: publish a request, or consume a source.

A broker runtime (sim/brokers/base.py) is the port, whatever the broker: it publishes, and it
builds a consuming service's consumer replicas, which hand each delivery to the service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sim.message import Message

__all__ = ["BrokerPort"]


class BrokerPort(Protocol):
    def publisher(self, to: str, routing_key: str) -> Callable[[Message], bool]: ...
    def service_consumers(self, service: Any, work: Callable[[Message], Any]) -> list[Any]: ...
