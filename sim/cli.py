"""The `mqsim` command: run, validate and list scenarios, and make the demo figures."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sim.kernel import run as run_scenario
from sim.results import Results
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.units import format_duration

__all__ = ["app", "main"]

app = typer.Typer(
    name="mqsim",
    help="Simulate message queues and streams, and chart what they do.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
# Piped output (make demo in CI, a log) keeps the table whole rather than squeezed to 80 columns.
stdout = Console(width=None if sys.stdout.isatty() else 150)
stderr = Console(stderr=True)
SCENARIO_DIR = Path("scenarios")


def _fail(error: ScenarioError) -> None:
    """A bad input: one line on stderr, exit status 2, no traceback."""
    typer.echo(str(error), err=True)
    raise typer.Exit(2)


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[float], None]]:
    """A progress callback that shows a bar on stderr only once a run has taken over a second."""
    started = time.monotonic()
    bar: dict[str, Any] = {}

    def update(fraction: float) -> None:
        if "progress" not in bar:
            if time.monotonic() - started < 1.0 or not stderr.is_terminal:
                return
            progress = Progress(
                TextColumn(label),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                console=stderr,
                transient=True,
            )
            progress.start()
            bar["progress"], bar["task"] = progress, progress.add_task(label, total=1.0)
        bar["progress"].update(bar["task"], completed=fraction)

    try:
        yield update
    finally:
        if "progress" in bar:
            bar["progress"].stop()


def _summary_table(rows: list[tuple[str, dict[str, Any]]], first: str = "scenario") -> Table:
    table = Table(header_style="bold")
    for name in (first, "produced", "processed", "lost", "dropped", "rejected", "dead-lettered"):
        table.add_column(name, justify="right" if name != first else "left")
    for name in ("throughput", "p50", "p99", "max depth", "backlog"):
        table.add_column(name, justify="right")
    for label, s in rows:
        table.add_row(
            label,
            *(
                str(s[k])
                for k in ("produced", "processed", "lost", "dropped", "rejected", "dead_lettered")
            ),
            f"{s['throughput']:.4g}/s",
            format_duration(s["latency_p50"]) if s["latency_p50"] == s["latency_p50"] else "-",
            format_duration(s["latency_p99"]) if s["latency_p99"] == s["latency_p99"] else "-",
            str(s["max_queue_depth"]),
            str(s["backlog_at_end"]),
        )
    return table


def _run_all(
    scenario: Scenario, seed: int | None = None, duration: str | None = None, trace: bool = False
) -> dict[str, Results]:
    """{variant: Results} for a scenario with variants, else {"": Results}."""
    runs = {}
    for name, variant in (scenario.variant_scenarios() or {"": scenario}).items():
        with _progress_bar(f"{scenario.name} {name}".strip()) as progress:
            runs[name] = run_scenario(
                variant, seed=seed, duration=duration, trace=trace, progress=progress
            )
    return runs


def _write_runs(runs: dict[str, Results], folder: Path, prefix: str = "") -> None:
    from sim.viz import write_charts, write_variant_charts

    if list(runs) == [""]:
        write_charts(runs[""], folder, prefix)
        return
    write_variant_charts(runs, folder, prefix)


def _write_atomically(runs: dict[str, Results], out: Path) -> None:
    """Write the results folder next to its place, then swap it in: never half a folder."""
    from sim.viz import write_charts

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for variant, results in runs.items():
            target = staging / variant if variant else staging
            results.to_dir(target)
            if variant:
                write_charts(results, target)
        _write_runs(runs, staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _load(path: Path) -> Scenario:
    try:
        return load_scenario(path)
    except ScenarioError as error:
        _fail(error)
        raise  # unreachable: _fail exits


@app.command("run")
def run_command(
    scenario: Annotated[Path, typer.Argument(help="A scenario file (YAML).", show_default=False)],
    seed: Annotated[int | None, typer.Option(help="Replace the scenario's seed.")] = None,
    duration: Annotated[
        str | None, typer.Option(help="Replace the simulated duration, e.g. 10min.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Results folder \\[default: results/<scenario name>/]."),
    ] = None,
    trace: Annotated[bool, typer.Option(help="Keep a per-message trace (trace.csv).")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout, nothing else.")
    ] = False,
) -> None:
    """Run one scenario: print its summary, write summary.json, timeseries.csv and charts.

    A scenario with `variants:` runs each variant on the same seed, writes DIR/<variant>/ for
    each, draws them on shared axes in DIR/, and with --json prints {variant: summary}.

    [bold]Examples[/bold]

      mqsim run scenarios/mm1.yaml

      mqsim run scenarios/mm1.yaml --seed 7 --duration 30min --out /tmp/mm1

      mqsim run scenarios/mm1.yaml --json | python -m json.tool
    """
    loaded = _load(scenario)
    try:
        runs = _run_all(loaded, seed=seed, duration=duration, trace=trace)
    except ScenarioError as error:
        _fail(error.with_source(str(scenario)))
        return
    target = out if out is not None else Path("results") / loaded.name
    _write_atomically(runs, target)
    if as_json:
        if list(runs) == [""]:
            sys.stdout.write(runs[""].summary_json() + "\n")
        else:
            payload = {name: json.loads(r.summary_json()) for name, r in runs.items()}
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    rows = [(name or loaded.name, r.summary) for name, r in runs.items()]
    stdout.print(_summary_table(rows, first="variant" if len(runs) > 1 else "scenario"))
    stdout.print(f"results and charts in {target}/")


@app.command("validate")
def validate_command(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
) -> None:
    """Check scenario files without running them; exit status 2 if any is invalid.

    [bold]Example[/bold]

      mqsim validate scenarios/*.yaml
    """
    bad = 0
    for path in scenarios:
        try:
            load_scenario(path)
        except ScenarioError as error:
            typer.echo(str(error), err=True)
            bad += 1
        else:
            typer.echo(f"{path}: ok")
    if bad:
        raise typer.Exit(2)


def _scenario_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))


@app.command("list")
def list_command(
    folder: Annotated[Path, typer.Option("--dir", help="Where the scenarios are.")] = SCENARIO_DIR,
) -> None:
    """List the scenarios in a folder with their descriptions.

    [bold]Example[/bold]

      mqsim list --dir scenarios
    """
    table = Table("file", "name", "description", header_style="bold")
    for path in _scenario_files(folder):
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            table.add_row(str(path), "(invalid)", str(error))
            continue
        table.add_row(path.name, scenario.name, scenario.description)
    stdout.print(table)


@app.command("demo")
def demo_command(
    folder: Annotated[Path, typer.Option("--dir", help="Where the scenarios are.")] = SCENARIO_DIR,
    figures: Annotated[Path, typer.Option(help="Where the charts go.")] = Path("figures"),
) -> None:
    """Run every scenario in the folder, write their charts and print one summary table.

    [bold]Example[/bold]

      mqsim demo --dir scenarios --figures figures
    """
    files = _scenario_files(folder)
    loaded = [_load(path) for path in files]  # validate everything before writing anything
    rows = []
    for scenario in loaded:
        runs = _run_all(scenario)
        _write_runs(runs, figures, prefix=f"{scenario.name}_")
        rows.extend(
            (f"{scenario.name} ({name})" if name else scenario.name, r.summary)
            for name, r in runs.items()
        )
    stdout.print(_summary_table(rows))
    stdout.print(f"charts of {len(loaded)} scenarios in {figures}/")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
