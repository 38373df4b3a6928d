"""Clients that any broker model can use: open-loop producers."""

from sim.clients.producer import Producer

__all__ = ["Producer"]
