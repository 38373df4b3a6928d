"""The `mqsim` command: run, validate and list scenarios, and make the demo figures."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sim.experiments import (
    ExecutorLike,
    Interrupted,
    Replications,
    check_grid,
    executor_name,
    open_executor,
    parse_grid_assignment,
    replicate,
    sweep,
)
from sim.experiments.report import replication_table, sweep_table
from sim.kernel import run as run_scenario
from sim.outdir import OutputError, check_output, replace_folder
from sim.results import Results
from sim.scenario import Scenario, ScenarioError, load_scenario, parse_assignment
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
stdout = Console(width=None if sys.stdout.isatty() else 200)
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
    columns = ("produced", "processed", "lost", "dropped", "rejected", "dead-lettered", "expired")
    for name in (first, *columns):
        table.add_column(name, justify="right" if name != first else "left")
    for name in ("throughput", "p50", "p99", "max depth", "backlog"):
        table.add_column(name, justify="right")
    for label, s in rows:
        table.add_row(
            label,
            *(str(s[k.replace("-", "_")]) for k in columns),
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
    """Each run's results and charts (one folder per variant), swapped in whole."""
    from sim.viz import write_charts

    def write(staging: Path) -> None:
        for variant, results in runs.items():
            target = staging / variant if variant else staging
            results.to_dir(target)
            if variant:
                write_charts(results, target)
        _write_runs(runs, staging)

    _replace_folder(out, write)


def _load(path: Path, assignments: list[str] | None = None) -> Scenario:
    """The scenario file with `--set PATH=VALUE` overrides applied."""
    try:
        loaded = load_scenario(path)
        if assignments:
            loaded = loaded.override(dict(parse_assignment(a) for a in assignments))
        return loaded
    except ScenarioError as error:
        _fail(error if error.source else error.with_source(str(path)))
        raise  # unreachable: _fail exits


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Override a scenario value by dotted path, e.g. consumers.0.replicas=4 (repeatable).",
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(min=1, help="Worker processes for --seeds runs \\[default: all cores]."),
]
DaskOption = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Run on a Dask scheduler (tcp://host:8786), or 'local' for a LocalCluster.",
    ),
]


def _executor(workers: int | None, dask: str | None) -> ExecutorLike:
    """--dask wins; otherwise a local process pool of --workers (default: all cores)."""
    return dask if dask else workers


def _interrupted(error: KeyboardInterrupt) -> NoReturn:
    """Ctrl-C: one line, exit status 130 (128 + SIGINT), nothing written."""
    done = f" after {error.done} of {error.total} runs" if isinstance(error, Interrupted) else ""
    typer.echo(f"interrupted{done}; nothing written", err=True)
    raise typer.Exit(130)


def _replace_folder(out: Path, write: Callable[[Path], object]) -> None:
    """Fill a staging folder beside `out`, then swap it in: never half a folder, and never a
    folder that holds anything mqsim did not write (sim/outdir.py)."""
    try:
        replace_folder(out, write)
    except OutputError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


def _check_output(out: Path) -> Path:
    """Refuse, before anything runs, a results folder that mqsim may not replace."""
    try:
        check_output(out)
    except OutputError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    return out


def _replicate_all(
    scenario: Scenario, seeds: int, executor: ExecutorLike, workers: int | None
) -> dict[str, Replications]:
    """{variant: Replications} (or {"": ...}), every variant on the same seeds and one pool."""
    variants = scenario.variant_scenarios() or {"": scenario}
    with open_executor(executor, workers) as pool:
        _announce(scenario, len(variants) * seeds, executor, workers)
        return {name: replicate(v, seeds, pool) for name, v in variants.items()}


def _announce(scenario: Scenario, runs: int, executor: ExecutorLike, workers: int | None) -> None:
    """One line on stderr once the workers are up: how many runs, and where."""
    where = executor_name(executor, workers)
    typer.echo(f"{scenario.name}: {runs} runs on {where}", err=True)


def _run_replicated(
    scenario: Scenario,
    changes: dict[str, Any],
    seeds: int,
    executor: ExecutorLike,
    workers: int | None,
    out: Path | None,
    as_json: bool,
) -> None:
    # Replications get a folder of their own, so they never replace a single run's results.
    target = _check_output(out if out is not None else Path("results") / f"{scenario.name}-seeds")
    try:
        scenario = scenario.override(changes) if changes else scenario
        reps = _replicate_all(scenario, seeds, executor, workers)
    except KeyboardInterrupt as error:
        _interrupted(error)
    except ScenarioError as error:
        _fail(error if error.source else error.with_source(scenario.source))
        return

    def write(folder: Path) -> None:
        for name, rep in reps.items():
            rep.to_dir(folder / name if name else folder)

    _replace_folder(target, write)
    if as_json:
        if list(reps) == [""]:
            sys.stdout.write(reps[""].to_json() + "\n")
        else:
            payload = {name: rep.to_dict() for name, rep in reps.items()}
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    for rep in reps.values():
        stdout.print(replication_table(rep))
    stdout.print(f"runs.csv and replications.csv in {target}/")


@app.command("run")
def run_command(
    scenario: Annotated[Path, typer.Argument(help="A scenario file (YAML).", show_default=False)],
    seed: Annotated[int | None, typer.Option(help="Replace the scenario's seed.")] = None,
    duration: Annotated[
        str | None, typer.Option(help="Replace the simulated duration, e.g. 10min.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Results folder \\[default: results/NAME/, with --seeds results/NAME-seeds/, "
                "where NAME is the scenario's name]."
            )
        ),
    ] = None,
    trace: Annotated[bool, typer.Option(help="Keep a per-message trace (trace.csv).")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout, nothing else.")
    ] = False,
    assignments: SetOption = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Replicate on N seeds spawned from the seed: means with 95% confidence intervals.",
        ),
    ] = None,
    workers: WorkersOption = None,
    dask: DaskOption = None,
) -> None:
    """Run one scenario: print its summary, write summary.json, timeseries.csv and charts.

    With --seeds N it runs N independent replications (on all cores, or --workers, or --dask)
    and prints each metric's mean with its 95% confidence interval (Student t); it writes
    runs.csv (one row per seed) and replications.csv, and --json prints that table as JSON.

    A scenario with `variants:` runs each variant on the same seed, writes DIR/<variant>/ for
    each, draws them on shared axes in DIR/, and with --json prints {variant: summary}.

    [bold]Examples[/bold]

      mqsim run scenarios/mm1.yaml

      mqsim run scenarios/mm1.yaml --seed 7 --duration 30min --out /tmp/mm1

      mqsim run scenarios/mm1.yaml --json | python -m json.tool

      mqsim run scenarios/mm1.yaml --set producers.0.rate=0.5/s --seeds 30
    """
    loaded = _load(scenario, assignments)
    if seeds is not None:
        if trace:
            _fail(ScenarioError("--trace keeps the trace of one run; it does not go with --seeds"))
        changes: dict[str, Any] = {"seed": seed} if seed is not None else {}
        if duration is not None:
            changes["duration"] = duration
        _run_replicated(loaded, changes, seeds, _executor(workers, dask), workers, out, as_json)
        return
    target = _check_output(out if out is not None else Path("results") / loaded.name)
    try:
        runs = _run_all(loaded, seed=seed, duration=duration, trace=trace)
    except ScenarioError as error:
        _fail(error.with_source(str(scenario)))
        return
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


@app.command("sweep")
def sweep_command(
    scenario: Annotated[Path, typer.Argument(help="A scenario file (YAML).", show_default=False)],
    assignments: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="PATH=V1,V2,...",
            help="A parameter (dotted path) and the values to sweep; repeat for a grid.",
        ),
    ],
    seeds: Annotated[int, typer.Option(min=1, help="Seeds (runs) per grid point.")] = 10,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes \\[default: all cores].")
    ] = None,
    dask: DaskOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder \\[default: results/<scenario name>-sweep/]."),
    ] = None,
    metric: Annotated[
        str, typer.Option(help="The summary key to tabulate and chart.")
    ] = "latency_mean",
) -> None:
    """Run every combination of the --set values on N seeds each, on all cores or on Dask.

    Writes runs.csv (one row per run: the parameters, the seed and every numeric summary
    key), aggregate.csv (per grid point and metric: n, mean, std and the 95% confidence
    interval) and sweep_<metric>.png (the mean against the first parameter, with its CI
    band), and prints the table of --metric. Every grid point runs on the same seeds.

    [bold]Examples[/bold]

      mqsim sweep scenarios/mm1.yaml --set consumers.0.replicas=1,2,4 --seeds 10

      mqsim sweep scenarios/mm1.yaml --set producers.0.rate=0.5/s,0.8/s --set
      consumers.0.prefetch=1,10 --dask tcp://scheduler:8786
    """
    loaded = _load(scenario)
    target = _check_output(out if out is not None else Path("results") / f"{loaded.name}-sweep")
    try:
        given: dict[str, list[Any]] = {}
        for text in assignments:
            path, values = parse_grid_assignment(text)
            if path in given:
                raise ScenarioError("given twice; list every value in one --set", path)
            given[path] = values
        # A --set with one value is a plain override; those with several make the grid.
        grid = {path: values for path, values in given.items() if len(values) > 1} or given
        loaded = loaded.override({p: v[0] for p, v in given.items() if p not in grid})
        runs = len(check_grid(loaded, grid)) * seeds  # every point checked before any runs
        with open_executor(_executor(workers, dask), workers) as pool:
            _announce(loaded, runs, _executor(workers, dask), workers)
            result = sweep(loaded, grid, seeds, pool)
    except KeyboardInterrupt as error:
        _interrupted(error)
    except ScenarioError as error:
        _fail(error if error.source else error.with_source(str(scenario)))
        return
    except ValueError as error:
        _fail(ScenarioError(str(error), "--set", str(scenario)))
        return
    if metric not in result.metrics:
        known = ", ".join(result.metrics)
        _fail(ScenarioError(f"no metric {metric!r} (known: {known})", "--metric"))

    def write(folder: Path) -> None:
        from sim.viz.style import save

        result.to_dir(folder)
        save(result.plot(y=metric), folder / f"sweep_{metric}.png")

    _replace_folder(target, write)
    stdout.print(sweep_table(result, metric))
    stdout.print(f"runs.csv, aggregate.csv and sweep_{metric}.png in {target}/")


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
