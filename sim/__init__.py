"""mqsim: a discrete-event simulator of message queues and streams."""

from sim.brokers.registry import broker_types
from sim.experiments import Replications, Sweep, replicate, sweep
from sim.kernel import run, run_variants
from sim.results import Results
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "Replications",
    "Results",
    "Scenario",
    "ScenarioError",
    "Sweep",
    "broker_types",
    "load_scenario",
    "replicate",
    "run",
    "run_variants",
    "sweep",
]
