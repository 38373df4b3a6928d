"""Clients that any broker model can use: open-loop producers, and what faults do to consumers."""

from sim.clients.disturbance import Disturbance
from sim.clients.producer import Producer

__all__ = ["Disturbance", "Producer"]
