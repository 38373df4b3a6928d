"""Scenarios: the schema, the loader with one-line errors, and dotted-path overrides."""

from sim.errors import ScenarioError
from sim.scenario.load import load_scenario, validate
from sim.scenario.overrides import apply_overrides, parse_assignment
from sim.scenario.schema import ConsumerConfig, ProducerConfig, Scenario

__all__ = [
    "ConsumerConfig",
    "ProducerConfig",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "load_scenario",
    "parse_assignment",
    "validate",
]
