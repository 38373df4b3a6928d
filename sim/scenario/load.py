"""Scenario files: YAML in, a validated Scenario out, or one ScenarioError line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.scenario.errors import ScenarioError, format_path
from sim.scenario.overrides import apply_overrides
from sim.scenario.schema import Scenario

__all__ = ["load_scenario", "validate"]


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises ScenarioError naming the file and field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("no such file", source=source) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"cannot read the file ({error})", source=source) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ScenarioError(f"invalid YAML: {problem}", where, source) from None
    return validate(data, source)


def validate(data: Any, source: str = "") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping of scenario fields at the top level", source=source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise _first_error(error, source) from None
    for loc, message in _reference_errors(scenario):
        raise ScenarioError(message, format_path(loc), source)
    scenario._raw = copy.deepcopy(data)
    scenario._source = source
    variant_scenarios(scenario)  # a variant that does not validate is an error in the file
    return scenario


def variant_scenarios(scenario: Scenario) -> dict[str, Scenario]:
    """name -> the base scenario with that variant's dotted-path overrides applied."""
    built: dict[str, Scenario] = {}
    for name, changes in scenario.variants.items():
        base = scenario.raw
        base.pop("variants", None)
        try:
            data = apply_overrides(base, changes)
            if "variants" in data:
                raise ScenarioError("a variant cannot have variants of its own", "variants")
            variant = validate(data, scenario.source)
        except ScenarioError as error:
            path = ".".join(p for p in (f"variants.{name}", error.path) if p)
            raise ScenarioError(error.message, path, scenario.source) from None
        variant._variant = name
        built[name] = variant
    return built


def _reference_errors(scenario: Scenario):  # type: ignore[no-untyped-def]
    """Names that must point at something that exists (queues, exchanges...)."""
    broker = scenario.broker
    yield from broker.reference_errors()
    destinations, sources = sorted(broker.destinations()), sorted(broker.sources())
    for i, producer in enumerate(scenario.producers):
        if producer.to not in destinations:
            yield (
                ("producers", i, "to"),
                f"unknown destination {producer.to!r} (known: " + (", ".join(destinations) + ")"),
            )
    for i, consumer in enumerate(scenario.consumers):
        if consumer.from_ not in sources:
            yield (
                ("consumers", i, "from"),
                f"unknown source {consumer.from_!r} (known: " + (", ".join(sources) + ")"),
            )


def _first_error(error: ValidationError, source: str) -> ScenarioError:
    """Pydantic's first complaint, rewritten as `path: what was expected`."""
    detail = error.errors(include_url=False)[0]
    loc = tuple(detail["loc"])
    kind = detail["type"]
    message = detail["msg"]
    if kind == "extra_forbidden":
        known = _known_keys(Scenario, loc[:-1])
        message = f"unknown key {loc[-1]!r}" + (f" (known: {', '.join(known)})" if known else "")
    elif kind == "missing":
        message = "required field is missing"
    elif kind.startswith("value_error") or kind == "assertion_error":
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    elif kind == "literal_error":
        message = message.replace("Input should be", "expected")
    else:
        message = f"{message[:1].lower()}{message[1:]}, got {detail.get('input')!r}"
    return ScenarioError(message, format_path(loc), source)


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at `loc` accepts, to list beside an unknown one."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = _field(current, part)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return sorted((f.alias or name) for name, f in current.model_fields.items())


def _field(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
