"""Fitting a study's free parameters on its published rows, and the presets file it makes.

The fit minimises the squared log ratios model/published over the rows the study models
(scipy's least_squares, in log parameters, so every figure stays positive and a ratio of 2
weighs the same above and below). The fitted figures are rounded to 4 significant digits, and
every prediction reported is recomputed from the rounded ones: the presets file holds exactly
what the report and the chart show.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from sim.calibration.published import Row
from sim.calibration.studies import STUDIES, Part, Prediction, Study, predict, round_figure

__all__ = ["Fit", "fit_all", "fit_study", "presets_data", "round_figure", "shipped"]


@dataclass(frozen=True)
class Fit:
    """A study's fitted parts, the rows each system was fitted on, and every row's
    prediction under the fitted (rounded) figures."""

    study: Study
    parts: Mapping[str, Part]
    fitted_on: Mapping[str, tuple[str, ...]]
    predictions: tuple[tuple[Row, Prediction], ...]


def _runs(rows: Iterable[Row]) -> dict[str, dict[str, float]]:
    runs: dict[str, dict[str, float]] = {}
    for row in rows:
        runs.setdefault(row.run_id, {})[row.metric] = row.value
    return runs


def _apply(study: Study, parts: dict[str, Part], values: Iterable[float]) -> None:
    for free, value in zip(study.free, values, strict=True):
        for system in free.systems:
            parts[system][free.group][free.name] = value
    study.tie(parts)


def fit_study(study: Study, rows: list[Row], earlier: Mapping[str, Fit]) -> Fit:
    """Fit `study` on its rows of `rows`; `earlier` holds the fits it inherits figures from."""
    parts: dict[str, Part] = copy.deepcopy({k: dict(v) for k, v in study.parts.items()})
    for system, group, name, source, other in study.inherit:
        parts[system][group][name] = earlier[source].parts[other][group][name]
    mine = [r for r in rows if r.study == study.name]
    runs = _runs(mine)
    start = [predict(study, r, parts, runs) for r in mine]
    used = [r for r, p in zip(mine, start, strict=True) if p.value is not None and p.fitted]

    def residuals(x: np.ndarray) -> np.ndarray:
        _apply(study, parts, np.exp(x))
        out = []
        for row in used:
            value = predict(study, row, parts, runs).value
            assert value is not None
            out.append(math.log(max(value, 1e-300) / row.value))
        return np.array(out)

    x0 = np.log([f.start for f in study.free])
    low = np.log([f.low for f in study.free])
    high = np.log([f.high for f in study.free])
    solution = least_squares(residuals, x0, bounds=(low, high), x_scale=1.0, method="trf")
    _apply(study, parts, [round_figure(v) for v in np.exp(solution.x)])
    predictions = tuple((r, predict(study, r, parts, runs)) for r in mine)
    fitted_on = {
        system: tuple(r.row_id for r in used if _broker(r.system) == system) for system in parts
    }
    return Fit(study, parts, fitted_on, predictions)


def _broker(system: str) -> str:
    from sim.calibration.systems import SYSTEMS

    return SYSTEMS.get(system, system)


def fit_all(rows: list[Row]) -> dict[str, Fit]:
    """Every study, each after those it inherits from."""
    fits: dict[str, Fit] = {}
    for name, study in STUDIES.items():
        fits[name] = fit_study(study, rows, fits)
    return fits


def _rounded(value: Any) -> Any:
    return round_figure(value) if isinstance(value, float) else value


def shipped(rows: list[Row]) -> dict[str, Fit]:
    """Every study's predictions under the shipped presets (sim/presets/calibrated.json),
    without fitting: what the notebooks and the chart show."""
    from sim.calibration.systems import part_of

    fits: dict[str, Fit] = {}
    for name, study in STUDIES.items():
        parts = {system: part_of(name, system) for system in study.parts}
        mine = [r for r in rows if r.study == name]
        runs = _runs(mine)
        predictions = tuple((r, predict(study, r, parts, runs)) for r in mine)
        fits[name] = Fit(study, parts, {}, predictions)
    return fits


def _network(part: Part) -> dict[str, float]:
    one_way = float(part["network"].get("one_way", 0.0))
    if one_way == 0:
        return {}
    hops = ("producer_to_broker", "broker_to_consumer", "consumer_to_broker")
    return dict.fromkeys(hops, one_way)


def presets_data(fits: Mapping[str, Fit]) -> dict[str, Any]:
    """The contents of sim/presets/calibrated.json."""
    out: dict[str, Any] = {"generated_by": "tools/calibrate.py", "presets": {}}
    for name, found in fits.items():
        study = found.study
        systems = {}
        for system, part in found.parts.items():
            sources = dict(study.sources.get(system, {}))
            for free in study.free:
                if system in free.systems:
                    rows = ", ".join(r for s in free.systems for r in found.fitted_on[s])
                    sources[free.name] = f"fitted: {free.what} (rows {rows})"
            for inherited, _group, figure, source, other in study.inherit:
                if inherited == system:
                    sources.setdefault(figure, f"from the {source} fit ({other})")
            systems[system] = {
                "cost": {k: _rounded(v) for k, v in part["cost"].items()},
                "broker": {k: _rounded(v) for k, v in part["broker"].items()},
                "network": _network(part),
                "client": {k: _rounded(v) for k, v in part["client"].items()},
                "sources": sources,
                "fitted_on": list(found.fitted_on[system]),
            }
        out["presets"][name] = {
            "title": study.title,
            "source": study.source,
            "hardware": study.hardware,
            "setup": study.setup,
            "systems": systems,
        }
    return out
