"""mqsim: a discrete-event simulator of message queues and streams."""

from sim.kernel import run, run_variants
from sim.results import Results
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["Results", "Scenario", "ScenarioError", "load_scenario", "run", "run_variants"]
