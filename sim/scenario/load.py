"""Scenario files: YAML in, a validated Scenario out, or one ScenarioError line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.brokers.registry import client_errors, service_consumer_errors, spec_of
from sim.errors import ScenarioError, format_path
from sim.faults import reference_errors as fault_reference_errors
from sim.guarantees.config import reference_errors as guarantee_reference_errors
from sim.scenario.overrides import apply_overrides
from sim.scenario.schema import Scenario
from sim.services.config import reference_errors as service_reference_errors

__all__ = ["load_scenario", "on_broker", "validate"]


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
        # Files use the documented keys (aliases such as `retention.ms`), never attribute names.
        scenario = Scenario.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as error:
        raise _first_error(error, source) from None
    for loc, message in _reference_errors(scenario):
        raise ScenarioError(message, format_path(loc), source)
    scenario._raw = copy.deepcopy(data)
    scenario._source = source
    variant_scenarios(scenario)  # a variant that does not validate is an error in the file
    return scenario


def on_broker(scenario: Scenario, broker: dict[str, Any], name: str | None = None) -> Scenario:
    """The same producers, consumers, services and faults on another broker (`broker`, a
    `broker:` section): the fields the new broker does not read are left out, so the traffic
    (seed, arrivals, service times) is the same and a comparison across brokers is fair."""
    spec = spec_of(broker["type"])
    raw = scenario.raw
    raw["name"] = name or f"{scenario.name}_{spec.type}"
    raw["broker"] = broker
    models = {"producers": spec.producer, "consumers": spec.consumer}
    for kind, model in models.items():
        keys = {f.alias or n: n for n, f in model.model_fields.items()}
        for item in raw.get(kind, []):
            for key in list(item):
                if key not in keys or not spec.reads_field(kind, keys[key]):
                    del item[key]
    return validate(raw, scenario.source)


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
    yield from service_reference_errors(scenario)
    yield from service_consumer_errors(broker, scenario.services)
    yield from fault_reference_errors(scenario, spec_of(broker.type).nodes(broker))
    yield from guarantee_reference_errors(scenario.producers, scenario.consumers)
    yield from client_errors(broker, scenario.producers, scenario.consumers)


def _first_error(error: ValidationError, source: str) -> ScenarioError:
    """Pydantic's first complaint, rewritten as `path: what was expected`."""
    detail = error.errors(include_url=False)[0]
    loc, model = _without_union_tags(tuple(detail["loc"]))
    kind = detail["type"]
    message = detail["msg"]
    if kind == "extra_forbidden":
        known = _known_keys(model)
        message = f"unknown key {loc[-1]!r}" + (f" (known: {', '.join(known)})" if known else "")
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        # A discriminated union (broker.type): name the field and the known values.
        ctx = detail.get("ctx") or {}
        field = str(ctx.get("discriminator", "type")).strip("'")
        loc = (*loc, field)
        known = sorted(t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t)
        if kind == "union_tag_not_found":
            message = "required field is missing"
        else:
            message = f"unknown {field} {ctx.get('tag')!r} (known: {', '.join(known)})"
    elif kind == "missing":
        message = "required field is missing"
    elif kind.startswith("value_error") or kind == "assertion_error":
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    elif kind == "literal_error":
        message = message.replace("Input should be", "expected")
    else:
        message = f"{message[:1].lower()}{message[1:]}, got {detail.get('input')!r}"
    return ScenarioError(message, format_path(loc), source)


def _without_union_tags(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], type[BaseModel] | None]:
    """Pydantic puts the chosen member's tag in the path of a discriminated union
    (`broker.kafka.topics`); drop it (`broker.topics`). Also returns the model the path's last
    key was looked up in (None when unknown), to list the keys it accepts."""
    clean: list[Any] = []
    current: Any = Scenario
    container: type[BaseModel] | None = None
    for part in loc:
        if isinstance(part, int) or current is None:
            clean.append(part)
            continue
        models = _models_in(current)
        tagged = [m for m in models if part in _tags(m)] if len(models) > 1 else []
        if tagged:
            current = tagged[0]
            continue
        container = next((m for m in models if _field(m, part) is not None), None)
        if container is None:
            container = models[0] if len(models) == 1 else None
            current = None
        else:
            current = _field(container, part).annotation
        clean.append(part)
    return tuple(clean), container


def _tags(model: type[BaseModel]) -> tuple[Any, ...]:
    """The values of a model's `type: Literal[...]` field: its tag in a discriminated union."""
    field = model.model_fields.get("type")
    return getattr(field.annotation, "__args__", ()) if field is not None else ()


def _known_keys(model: type[BaseModel] | None) -> list[str]:
    """The keys `model` accepts, to list beside an unknown one."""
    if model is None:
        return []
    return sorted((f.alias or name) for name, f in model.model_fields.items())


def _field(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation can hold (through unions, lists, dicts and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found.extend(m for m in _models_in(arg) if m not in found)
    origin = getattr(annotation, "__origin__", None)  # Annotated[X, ...] keeps X here
    if not found and origin is not None and origin is not annotation:
        found.extend(_models_in(origin))
    return found
