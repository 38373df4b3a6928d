"""Fit mqsim's cost presets on published benchmark figures, and show how close they come.

    .venv/bin/python tools/calibrate.py            # fit, print every row, write the chart
    .venv/bin/python tools/calibrate.py --write    # ... and sim/presets/calibrated.json
    .venv/bin/python tools/calibrate.py --check    # exit 1 if the shipped presets differ
    .venv/bin/python tools/calibrate.py --simulate # ... and simulate the latency tests (minutes)

It reads ../shared/calibration/published.csv (its README explains the rows), fits each study's
few free parameters (sim/calibration/studies.py says which, and why the others are fixed),
prints for every row the published value, the model's value and their ratio (or why the row is
not modelled), checks the published orderings, and draws figures/calibration.png ("published
vs model", log scale, one point per row, the 2x band shaded; with --simulate, the latency
percentiles of simulated runs of Confluent's latency tests too). docs/calibration.md explains
the models and the rows the presets cannot meet.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.calibration.fit import fit_all, presets_data  # noqa: E402
from sim.calibration.published import DEFAULT_CSV, read_rows  # noqa: E402
from sim.calibration.report import orderings, outcomes, table  # noqa: E402
from sim.presets import PRESETS_FILE  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="published.csv")
    parser.add_argument("--write", action="store_true", help="write sim/presets/calibrated.json")
    parser.add_argument("--check", action="store_true", help="compare with the shipped presets")
    parser.add_argument("--figures", type=Path, default=ROOT / "figures", help="chart folder")
    parser.add_argument("--all", action="store_true", help="list the rows not modelled too")
    parser.add_argument(
        "--simulate", action="store_true", help="simulate the latency tests on the presets"
    )
    args = parser.parse_args(argv)

    rows = read_rows(args.csv)
    fits = fit_all(rows)
    data = presets_data(fits)
    found = outcomes(fits, rows)
    modelled = [o for o in found if o.model is not None]
    print(table(found, modelled_only=not args.all))
    within = sum(o.within for o in modelled)
    print(f"\n{within} of {len(modelled)} modelled rows within 2x of the published figure")
    for o in modelled:
        if not o.within:
            print(f"  outside 2x: {o.row.row_id} {o.row.system} {o.row.variant} {o.row.metric}")
    for result in orderings(found):
        state = "holds" if result.holds else "DOES NOT HOLD"
        model = " > ".join(f"{v:,.0f}" for v in result.model)
        published = " > ".join(f"{v:,.0f}" for v in result.published)
        print(f"{result.ordering.name}: {state}\n  published {published}\n  model     {model}")

    simulated: dict[str, float] = {}
    if args.simulate:
        from sim.calibration.simulate import simulate

        simulated = simulate(lambda name: print(f"simulating {name}...", flush=True))
        by_id = {o.row.row_id: o.row for o in found}
        print(
            f"\n{'row':6} {'system':9} {'variant':28} {'metric':18} {'published':>9} "
            f"{'simulated':>9} {'ratio':>6}"
        )
        near = 0
        for row_id, value in simulated.items():
            row = by_id[row_id]
            ratio = value / row.value
            near += 0.5 <= ratio <= 2
            print(
                f"{row_id:6} {row.system:9} {row.variant[:28]:28} {row.metric:18} "
                f"{row.value:9.3g} {value:9.3g} {ratio:6.2f}"
            )
        print(f"{near} of {len(simulated)} simulated percentiles within 2x")

    from sim.viz.calibration import calibration_chart
    from sim.viz.style import save

    chart = save(calibration_chart(found, simulated), args.figures / "calibration.png")
    print(f"chart: {chart}")

    text = json.dumps(data, indent=2) + "\n"
    if args.write:
        PRESETS_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {PRESETS_FILE}")
    if args.check:
        shipped = PRESETS_FILE.read_text(encoding="utf-8")
        if shipped != text:
            print(f"{PRESETS_FILE} differs from what the fit derives: run with --write")
            return 1
        print(f"{PRESETS_FILE} is what the fit derives")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
