"""The consumer cycle every broker's consumers run, and what hooks into it (delivery
guarantees now; rate limits and retry policies later)."""

from sim.consumers.cycle import ConsumerReplica
from sim.consumers.guarantee import Crashed, GuaranteeRun

__all__ = ["ConsumerReplica", "Crashed", "GuaranteeRun"]
