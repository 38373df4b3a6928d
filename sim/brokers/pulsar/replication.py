"""Geo-replication between clusters (placeholder until the replicators are written)."""

from __future__ import annotations

from typing import Any

__all__ = ["GeoReplication"]


class GeoReplication:
    def __init__(self, service: Any) -> None:
        self.service = service

    def topic_created(self, topic: Any) -> None:
        pass

    def subscription_created(self, sub: Any) -> None:
        pass

    def mark_delete_moved(self, topic: Any, sub: Any) -> None:
        pass
