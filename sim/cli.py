"""The `mqsim` command: run, validate and list scenarios, and make the demo figures."""

from __future__ import annotations

import functools
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperArgument, TyperCommand, TyperGroup

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
from sim.experiments.report import (
    Grid,
    fitted,
    replication_grid,
    summary_grid,
    summary_notes,
    sweep_grid,
)
from sim.kernel import RunInterrupted
from sim.kernel import run as run_scenario
from sim.outdir import OutputError, check_output, replace_folder
from sim.results import Results
from sim.scenario import Scenario, ScenarioError, load_scenario, parse_assignment
from sim.scenario.schema import check_seed
from sim.units import format_duration, parse_duration

__all__ = ["app", "main"]

F = TypeVar("F", bound=Callable[..., Any])


def _plain_metavars(params: list[Any]) -> None:
    """typer 0.29 labels a parameter without a metavar by its Python type (`<bool>`, `<path>`,
    `<int range>`): a flag gets no label, anything else its name in capitals."""
    for param in params:
        if param.metavar is None:
            param.metavar = "" if getattr(param, "is_flag", False) else param.name.upper()
        if isinstance(param, TyperArgument):
            # An argument's name column shows its metavar already; typer adds its type beside
            # it whatever the metavar, so this instance gets no type label.
            param.display_type_rich = lambda ctx: None


def _usage_pieces(command: Any, ctx: Any) -> list[str]:
    """The usage line as click writes it (`run [OPTIONS] SCENARIO`), not typer's `{scenario}`."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if not isinstance(param, TyperArgument):
            pieces.extend(param.get_usage_pieces(ctx))
            continue
        name = param.metavar or param.name.upper()
        name = name if param.required else f"[{name}]"
        pieces.append(name + ("..." if param.nargs != 1 else ""))
    return pieces


class _Command(TyperCommand):
    """A command whose help shows names (SCENARIO, DIR, N), never Python types."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_metavars(self.get_params(ctx))
        super().format_help(ctx, formatter)


class _Group(TyperGroup):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_metavars(self.get_params(ctx))
        super().format_help(ctx, formatter)


app = typer.Typer(
    name="mqsim",
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
stderr = Console(stderr=True)
SCENARIO_DIR = Path("scenarios")


def _stdout() -> Console:
    """stdout, as wide as the terminal (that of stdin or stderr when stdout is a pipe, as in
    `mqsim run x | less`), or COLUMNS when set, else 80. Tables never cut a cell at any width
    (sim/experiments/report.py), so a log (make demo in CI) gets narrow tables, not cut ones."""
    return Console()


def _print_grid(grid: Grid, notes: list[str] | None = None) -> None:
    console = _stdout()
    for table in fitted(grid, console.width):
        console.print(table)
    for note in notes or ():
        console.print(note, highlight=False)


def _reflow(doc: str) -> str:
    """A docstring for typer's rich help: each prose paragraph on one line, which the terminal
    wraps to its width; a paragraph of indented lines (examples) keeps its lines."""
    paragraphs = []
    for block in inspect.cleandoc(doc).split("\n\n"):
        lines = block.splitlines()
        if all(line.startswith(" ") for line in lines):
            paragraphs.append(block)
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


def _command(name: str) -> Callable[[F], F]:
    """`@app.command(name)` with the function's docstring as reflowed help, and Ctrl-C as one
    line and exit status 130 wherever it comes (typer would exit 130 without a word)."""

    def register(function: F) -> F:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except KeyboardInterrupt as error:
                _interrupted(error)

        command = app.command(name, cls=_Command, help=_reflow(function.__doc__ or ""))
        return command(guarded)  # type: ignore[no-any-return]

    return register


def _installed_version() -> str:
    try:
        return version("mqsim")  # the installed distribution's metadata (pyproject.toml)
    except PackageNotFoundError:
        return "(version unknown: not installed; pip install -e .)"


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"mqsim {_installed_version()}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print mqsim's version and exit.",
        ),
    ] = False,
) -> None:
    """Simulate message queues and streams, and chart what they do."""


def _fail(error: ScenarioError) -> None:
    """A bad input: one line on stderr, exit status 2, no traceback."""
    typer.echo(str(error), err=True)
    raise typer.Exit(2)


@contextmanager
def _progress_bar(label: str, until: float | None) -> Iterator[Callable[[float], None]]:
    """A progress callback that shows a bar on stderr only once a run has taken over a second:
    the share of simulated time done, the simulated time reached and the wall time left."""
    started = time.monotonic()
    bar: dict[str, Any] = {}
    of = f" of {format_duration(until)}" if until else ""

    def update(fraction: float) -> None:
        if "progress" not in bar:
            if time.monotonic() - started < 1.0 or not stderr.is_terminal:
                return
            progress = Progress(
                TextColumn(label),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("t={task.fields[simulated]}" + of),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=stderr,
                transient=True,
            )
            progress.start()
            bar["progress"] = progress
            bar["task"] = progress.add_task(label, total=1.0, simulated="0s")
        simulated = format_duration(fraction * until) if until else f"{fraction:.0%}"
        bar["progress"].update(bar["task"], completed=fraction, simulated=simulated)

    try:
        yield update
    finally:
        if "progress" in bar:
            bar["progress"].stop()


class _Stopped(KeyboardInterrupt):
    """Ctrl-C during `_run_all`: where it stopped, in words ("t=2.5min in variant 'slow'")."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _run_all(
    scenario: Scenario, seed: int | None = None, duration: str | None = None, trace: bool = False
) -> dict[str, Results]:
    """{variant: Results} for a scenario with variants, else {"": Results}.

    Ctrl-C raises _Stopped, saying at what simulated time (and in which variant) it stopped.
    """
    runs = {}
    for name, variant in (scenario.variant_scenarios() or {"": scenario}).items():
        label = f"{scenario.name} {name}".strip()
        with _progress_bar(label, _duration(variant, duration)) as progress:
            try:
                runs[name] = run_scenario(
                    variant, seed=seed, duration=duration, trace=trace, progress=progress
                )
            except RunInterrupted as error:
                where = f" in variant {name!r}" if name else ""
                raise _Stopped(f"t={format_duration(error.at)}{where}") from None
    return runs


def _duration(scenario: Scenario, duration: str | None) -> float | None:
    """The simulated time a run will cover (None if --duration is bad: the run says why)."""
    if duration is None:
        return scenario.duration
    try:
        return parse_duration(duration)
    except ValueError:
        return None


def _write_runs(runs: dict[str, Results], folder: Path, prefix: str = "") -> None:
    from sim.viz.charts import write_demo_charts

    write_demo_charts(runs, folder, prefix)


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
    typer.Option(metavar="N", help="Worker processes \\[default: all cores]."),
]
DaskOption = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Run on a Dask scheduler (tcp://host:8786), or 'local' for a LocalCluster.",
    ),
]


def _at_least_one(value: int | None, option: str) -> None:
    """A count option (--seeds, --workers) below 1: one line, exit status 2."""
    if value is not None and value < 1:
        _fail(ScenarioError(f"must be at least 1, got {value}", option))


def _executor(workers: int | None, dask: str | None) -> ExecutorLike:
    """--dask wins; otherwise a local process pool of --workers (default: all cores)."""
    return dask if dask else workers


def _interrupted(error: KeyboardInterrupt) -> NoReturn:
    """Ctrl-C: one line, exit status 130 (128 + SIGINT), nothing written."""
    if isinstance(error, Interrupted):
        where = f" after {error.done} of {error.total} runs"
    elif isinstance(error, _Stopped):
        where = f" at {error.where}"
    else:
        where = ""
    typer.echo(f"interrupted{where}; nothing written", err=True)
    raise typer.Exit(130)


def _replace_folder(out: Path, write: Callable[[Path], object]) -> None:
    """Fill a staging folder beside `out`, then swap it in: never half a folder, and never a
    folder that holds anything mqsim did not write (sim/outdir.py). Ctrl-C while writing
    leaves the previous folder as it was."""
    try:
        replace_folder(out, write)
    except OutputError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("interrupted while writing the results; nothing written", err=True)
        raise typer.Exit(130) from None


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
        _print_grid(replication_grid(rep))
    _stdout().print(f"runs.csv and replications.csv in {target}/", highlight=False)


def _print_summaries(rows: list[tuple[str, dict[str, Any]]], first: str, title: str = "") -> None:
    """The runs' summary table, laid out to fit the terminal, and what it leaves out."""
    _print_grid(summary_grid(rows, first, title), summary_notes(rows))


ScenarioArgument = Annotated[
    Path,
    typer.Argument(metavar="SCENARIO", help="A scenario file (YAML).", show_default=False),
]


@_command("run")
def run_command(
    scenario: ScenarioArgument,
    seed: Annotated[
        int | None,
        typer.Option(metavar="N", help="Replace the scenario's seed (an integer, 0 or more)."),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="Replace the simulated duration, e.g. 10min."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help=(
                "Results folder \\[default: results/NAME/, with --seeds results/NAME-seeds/, "
                "where NAME is the scenario's name]."
            ),
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
            metavar="N",
            help=(
                "Replicate on N seeds (at least 1) spawned from the seed: means with 95% "
                "confidence intervals."
            ),
        ),
    ] = None,
    workers: WorkersOption = None,
    dask: DaskOption = None,
) -> None:
    """Run one scenario: print its summary, write summary.json, timeseries.csv and charts.

    With --seeds N it runs N independent replications (on all cores, or --workers, or --dask)
    and prints each metric's mean with its 95% confidence interval (Student t); it writes
    runs.csv (one row per seed) and replications.csv, and --json prints that table as JSON.

    A scenario with `variants:` runs each variant on the same seed, writes DIR/VARIANT/ for
    each, draws them on shared axes in DIR/, and with --json prints one summary per variant,
    keyed by its name.

    Ctrl-C stops the run with exit status 130 and writes nothing: the results of an earlier
    run stay as they were.

    [bold]Examples[/bold]

      mqsim run scenarios/mm1.yaml

      mqsim run scenarios/mm1.yaml --seed 7 --duration 30min --out /tmp/mm1

      mqsim run scenarios/mm1.yaml --json | python -m json.tool

      mqsim run scenarios/mm1.yaml --set producers.0.rate=0.5/s --seeds 30
    """
    if seed is not None:
        try:
            check_seed(seed, "--seed")
        except ScenarioError as error:
            _fail(error)
    _at_least_one(seeds, "--seeds")
    _at_least_one(workers, "--workers")
    loaded = _load(scenario, assignments)
    _warn_if_overloaded(loaded, duration)
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
    _print_summaries(rows, first="variant" if len(runs) > 1 else "scenario")
    _stdout().print(f"results and charts in {target}/", highlight=False)


def _warn_if_overloaded(scenario: Scenario, duration: str | None) -> None:
    """One line on stderr (never stdout: --json stays pure JSON) when a consumer of some
    variant is offered more than it can process on an unbounded source."""
    from sim.experiments.overload import warning_line
    from sim.units import parse_duration

    until = None
    if duration is not None:
        try:
            until = parse_duration(duration)
        except ValueError:
            return  # the run itself reports the bad duration, in one line
    for variant in (scenario.variant_scenarios() or {"": scenario}).values():
        line = warning_line(variant, until)
        if line is not None:
            label = f" [{variant.variant}]" if variant.variant else ""
            typer.echo(f"{scenario.source or scenario.name}{label}: {line}", err=True)
            return


@_command("sweep")
def sweep_command(
    scenario: ScenarioArgument,
    assignments: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="PATH=V1,V2,...",
            help="A parameter (dotted path) and the values to sweep; repeat for a grid.",
        ),
    ],
    seeds: Annotated[
        int, typer.Option(metavar="N", help="Seeds (runs) per grid point, at least 1.")
    ] = 10,
    workers: WorkersOption = None,
    dask: DaskOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Output folder \\[default: results/NAME-sweep/, NAME the scenario's name].",
        ),
    ] = None,
    metric: Annotated[
        str, typer.Option(metavar="KEY", help="The summary key to tabulate and chart.")
    ] = "latency_mean",
) -> None:
    """Run every combination of the --set values on N seeds each, on all cores or on Dask.

    Writes runs.csv (one row per run: the parameters, the seed and every numeric summary
    key), aggregate.csv (per grid point and metric: n, mean, std and the 95% confidence
    interval) and sweep_METRIC.png (the mean against the first parameter, with its CI
    band), and prints the table of --metric. Every grid point runs on the same seeds.

    [bold]Examples[/bold]

      mqsim sweep scenarios/mm1.yaml --set consumers.0.replicas=1,2,4 --seeds 10

      mqsim sweep scenarios/mm1.yaml --set producers.0.rate=0.5/s,0.8/s \\
          --set consumers.0.prefetch=1,10 --dask tcp://scheduler:8786
    """
    _at_least_one(seeds, "--seeds")
    _at_least_one(workers, "--workers")
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
    _print_grid(sweep_grid(result, metric))
    _stdout().print(f"runs.csv, aggregate.csv and sweep_{metric}.png in {target}/", highlight=False)


@_command("validate")
def validate_command(
    scenarios: Annotated[
        list[Path], typer.Argument(metavar="SCENARIOS", help="Scenario files to check.")
    ],
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
    """The scenario files in `folder`; a missing folder is a one-line error (exit status 2)."""
    if not folder.is_dir():
        why = "not a folder" if folder.exists() else "no such folder"
        _fail(ScenarioError(f"{why}; give the folder of scenarios with --dir", source=str(folder)))
    return sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))


def _none_found(folder: Path) -> str:
    return f"{folder}: no scenario files (*.yaml, *.yml) in this folder"


DirOption = Annotated[Path, typer.Option("--dir", metavar="DIR", help="Where the scenarios are.")]


@_command("list")
def list_command(folder: DirOption = SCENARIO_DIR) -> None:
    """List the scenarios in a folder with their descriptions.

    A folder that does not exist is an error (exit status 2); a folder without scenario files
    says so (exit status 0).

    [bold]Example[/bold]

      mqsim list --dir scenarios
    """
    files = _scenario_files(folder)
    if not files:
        typer.echo(_none_found(folder))
        return
    table = Table(header_style="bold")
    table.add_column("file", no_wrap=True)  # names stay whole; descriptions wrap
    table.add_column("name", no_wrap=True)
    table.add_column("description")
    for path in files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            table.add_row(str(path), "(invalid)", str(error))
            continue
        table.add_row(path.name, scenario.name, scenario.description)
    _stdout().print(table)


@_command("demo")
def demo_command(
    folder: DirOption = SCENARIO_DIR,
    figures: Annotated[Path, typer.Option(metavar="DIR", help="Where the charts go.")] = Path(
        "figures"
    ),
) -> None:
    """Run every scenario in the folder, write their charts and print each one's summary.

    A folder without scenario files is an error (exit status 2): there is nothing to run.
    Ctrl-C stops it with exit status 130; the charts of the scenarios already run stay.

    [bold]Example[/bold]

      mqsim demo --dir scenarios --figures figures
    """
    files = _scenario_files(folder)
    if not files:
        typer.echo(_none_found(folder), err=True)
        raise typer.Exit(2)
    loaded = [_load(path) for path in files]  # validate everything before writing anything
    for done, scenario in enumerate(loaded):
        try:
            runs = _run_all(scenario)
            _write_runs(runs, figures, prefix=f"{scenario.name}_")
        except KeyboardInterrupt as error:
            where = f" at {error.where}" if isinstance(error, _Stopped) else ""
            typer.echo(
                f"interrupted in {scenario.name}{where}; the charts of the {done} scenarios "
                f"before it are in {figures}/",
                err=True,
            )
            raise typer.Exit(130) from None
        # One table per scenario, as `mqsim run` prints it: its variants side by side.
        rows = [(name or scenario.name, r.summary) for name, r in runs.items()]
        if list(runs) == [""]:
            _print_summaries(rows, "scenario")
        else:
            _print_summaries(rows, "variant", title=scenario.name)
    _stdout().print(f"charts of {len(loaded)} scenarios in {figures}/", highlight=False)


# ----- playback: mqsim animate and mqsim report (sim/viz/playback.py) -----


def _time_option(name: str, help: str) -> Any:
    return typer.Option(name, metavar="TIME", help=help, show_default=False)


def _window(scenario: Scenario, start: str | None, end: str | None) -> tuple[float, float]:
    """--from and --to in seconds (--to defaults to the scenario's duration)."""
    times = []
    for text, option, default in ((start, "--from", 0.0), (end, "--to", scenario.duration)):
        try:
            times.append(default if text is None else parse_duration(text))
        except ValueError as error:
            _fail(ScenarioError(str(error), option))
    if not 0 <= times[0] < times[1]:
        _fail(ScenarioError("--from must be before --to, and --to after 0", "--from"))
    if times[1] <= scenario.warmup:  # the run stops at --to, and a run outlasts its warm-up
        _fail(
            ScenarioError(f"must be after the warm-up ({format_duration(scenario.warmup)})", "--to")
        )
    return times[0], times[1]


def _played(
    scenario: Scenario, names: list[str] | None, start: float, end: float, seed: int | None
) -> tuple[dict[str, Results], list[Any]]:
    """The chosen variants run with a trace up to `end`, and their playbacks of the window."""
    from sim.viz.playback import WindowError, build_playback

    variants = scenario.variant_scenarios() or {"": scenario}
    for name in names or ():
        if name not in variants:
            known = ", ".join(n for n in variants if n) or "none: the scenario has no variants"
            _fail(ScenarioError(f"no variant {name!r} (known: {known})", "--variant"))
    chosen = {n: variants[n] for n in names} if names else variants
    runs: dict[str, Results] = {}
    for name, variant in chosen.items():
        label = f"{scenario.name} {name}".strip()
        with _progress_bar(label, end) as progress:
            try:
                runs[name] = run_scenario(
                    variant, seed=seed, duration=end, trace=True, progress=progress
                )
            except RunInterrupted as error:
                where = f" in variant {name!r}" if name else ""
                raise _Stopped(f"t={format_duration(error.at)}{where}") from None
            except ScenarioError as error:
                _fail(error if error.source else error.with_source(scenario.source))
    try:
        playbacks = [build_playback(r, start, end) for r in runs.values()]
    except WindowError as error:
        _fail(ScenarioError(str(error)))
    return runs, playbacks


@_command("animate")
def animate_command(
    scenario: ScenarioArgument,
    out: Annotated[
        Path,
        typer.Option(metavar="FILE", help="The file to write: .gif, .mp4 (needs ffmpeg), .html."),
    ],
    variant: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME", help="The variant to play (repeat to stack several on one clock)."
        ),
    ] = None,
    start: Annotated[
        str | None, _time_option("--from", "Start of the window (default: 0).")
    ] = None,
    end: Annotated[
        str | None, _time_option("--to", "End of the window; the run stops there.")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            metavar="X",
            help="Simulated seconds per second of playback \\[default: the window in about 20 s].",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Replace the scenario's seed.")
    ] = None,
    assignments: SetOption = None,
) -> None:
    """Play back a traced run: messages moving through the topology, queues filling, consumers
    busy or down, partitions changing owner, faults, and a clock.

    The run is traced (whatever the scenario says) and stops at --to. A scenario with variants
    plays its first one unless --variant says which. A window of more than 200,000 trace rows
    is refused with a shorter one to choose. The file is written beside its name and renamed
    into place, and a file mqsim did not write is never replaced.

    [bold]Examples[/bold]

      mqsim animate scenarios/kafka_consumer_crash.yaml --from 55s --to 80s --out crash.gif

      mqsim animate scenarios/coupling.yaml --variant sync --variant async --to 70s --out c.html
    """
    from sim.outdir import replace_file
    from sim.viz.animate import SIGNATURE, AnimationError, plan_frames, write_animation
    from sim.viz.report import playback_page

    if seed is not None:
        try:
            check_seed(seed, "--seed")
        except ScenarioError as error:
            _fail(error)
    loaded = _load(scenario, assignments)
    window = _window(loaded, start, end)
    suffix = out.suffix.lower()
    try:
        if suffix != ".html":
            plan_frames(*window, suffix, speed)  # a bad format or speed fails before the run
        _check_file(out, SIGNATURE)
    except AnimationError as error:
        _fail(ScenarioError(str(error), source=str(out)))
    names = variant or ([next(iter(loaded.variant_scenarios()))] if loaded.variants else None)
    runs, playbacks = _played(loaded, names, *window, seed)

    def write(path: Path) -> None:
        if suffix == ".html":
            page = playback_page(playbacks, loaded.name, loaded.description)
            path.write_text(page, encoding="utf-8")
        else:
            write_animation(playbacks, path, speed)

    try:
        replace_file(out, write, SIGNATURE.encode())
    except OutputError as error:
        _fail(ScenarioError(str(error)))
    except KeyboardInterrupt:
        typer.echo("interrupted while writing; nothing written", err=True)
        raise typer.Exit(130) from None
    played = ", ".join(n for n in runs if n)
    others = [n for n in loaded.variant_scenarios() if n not in runs]
    note = f" (variant {played}; others: {', '.join(others)})" if played and others else ""
    _stdout().print(
        f"{out}: {format_duration(window[0])} to {format_duration(window[1])}{note}",
        highlight=False,
    )


def _check_file(out: Path, signature: str) -> None:
    from sim.outdir import check_file

    try:
        check_file(out, signature.encode())
    except OutputError as error:
        _fail(ScenarioError(str(error)))


@_command("report")
def report_command(
    scenario: ScenarioArgument,
    out: Annotated[Path, typer.Option(metavar="DIR", help="The folder to write (index.html).")],
    start: Annotated[
        str | None, _time_option("--from", "Start of the playback (default: 0).")
    ] = None,
    end: Annotated[
        str | None, _time_option("--to", "End of the playback; the runs stop there.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Replace the scenario's seed.")
    ] = None,
    assignments: SetOption = None,
) -> None:
    """Write DIR/index.html: the scenario's description, its summary (variants side by side),
    every chart, and a playback of every variant with play, pause, speed and a time scrubber
    that moves the stages and a cursor on the charts together.

    The page is self-contained (nothing is fetched; open it from file://). The runs are traced
    and stop at --to; a window of more than 200,000 trace rows is refused.

    [bold]Example[/bold]

      mqsim report scenarios/poison_message.yaml --to 2min --out results/poison-report
    """
    from sim.viz.report import write_report

    if seed is not None:
        try:
            check_seed(seed, "--seed")
        except ScenarioError as error:
            _fail(error)
    loaded = _load(scenario, assignments)
    window = _window(loaded, start, end)
    target = _check_output(out)
    runs, playbacks = _played(loaded, None, *window, seed)
    _replace_folder(
        target,
        lambda folder: write_report(runs, playbacks, folder, loaded.name, loaded.description),
    )
    _stdout().print(f"report in {target}/index.html", highlight=False)


# ----- mqsim omb: OpenMessaging Benchmark workloads in, OMB result files out (sim/omb/) -----


def _omb_options(
    driver: str,
    preset: str | None,
    duration: str | None,
    warmup: str | None,
    period: str | None,
    sample: int,
    backlog: str | None,
    seed: int | None,
) -> Any:
    """The run's options, every one checked before anything runs (ScenarioError otherwise)."""
    from sim.omb import RunOptions, driver_of, preset_of
    from sim.units import parse_size

    chosen = driver_of(driver)
    if preset is not None:
        preset_of(preset, chosen.broker)

    def seconds(text: str | None, option: str, positive: bool) -> float | None:
        if text is None:
            return None
        try:
            value = parse_duration(text)
        except ValueError as error:
            raise ScenarioError(str(error), option) from None
        if positive and value <= 0:
            raise ScenarioError(f"must be positive, got {text!r}", option)
        return value

    size = None
    if backlog is not None:
        try:
            size = parse_size(backlog)
        except ValueError as error:
            raise ScenarioError(str(error), "--backlog") from None
    if sample < 1:
        raise ScenarioError(f"must be at least 1, got {sample}", "--sample")
    return RunOptions(
        driver=driver,
        preset=preset,
        duration=seconds(duration, "--duration", True),
        warmup=seconds(warmup, "--warmup", False),
        period=seconds(period, "--period", True) or 10.0,
        sample=sample,
        backlog=size,
        seed=1 if seed is None else check_seed(seed, "--seed"),
    )


def _omb_compare(paths: list[Path], out: Path | None, period: str | None) -> None:
    """Draw the OMB charts of the result files in `paths` into `out`."""
    from sim.omb.result import read_results
    from sim.viz.omb import write_omb_charts

    try:
        found = read_results(paths)
        every = float(parse_duration(period)) if period is not None else 10.0
    except ScenarioError as error:
        _fail(error)
        return
    except ValueError as error:
        _fail(ScenarioError(str(error), "--period"))
        return
    target = _check_output(out if out is not None else Path("results") / "omb-compare")
    charts: list[Path] = []

    def write(folder: Path) -> None:
        stems = [path.stem for path, _ in found]
        charts.extend(write_omb_charts([d for _, d in found], folder, stems, every))

    _replace_folder(target, write)
    _stdout().print(
        f"{len(charts)} charts of {len(found)} result files in {target}/", highlight=False
    )


def _keep_previous(out: Path, staging: Path) -> None:
    """Copy the files mqsim wrote in `out` before (its marker lists them) into `staging`, so a
    run of another driver adds its file beside the earlier ones."""
    import json as json_module
    import shutil

    from sim.outdir import MARKER

    try:
        listed = json_module.loads((out / MARKER).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return
    for name in listed:
        source = out / name
        if source.is_file():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staging / name)


@_command("omb")
def omb_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="WORKLOAD|RESULTS...",
            help="An OMB workload file (YAML); with --compare, result files or folders of them.",
            show_default=False,
        ),
    ],
    drivers: Annotated[
        list[str] | None,
        typer.Option(
            "--driver",
            metavar="DRIVER",
            help="kafka, rabbitmq, sqs, redis or pulsar (repeatable: one result file each).",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="The broker's cost preset: ideal, confluent-2020, mqperf-2021 "
            "\\[default: the driver's calibrated one].",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Results folder \\[default: results/omb/, with --compare results/omb-compare/].",
        ),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="Replace testDurationMinutes, e.g. 30s."),
    ] = None,
    warmup: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="Replace warmupDurationMinutes, e.g. 10s or 0."),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            metavar="TIME",
            help="OMB's sample period \\[default: 10s]; its other polls scale with it.",
        ),
    ] = None,
    sample: Annotated[
        int,
        typer.Option(
            metavar="N",
            help="Simulate at most N topics (queue drivers: partition queues); scale the rest.",
        ),
    ] = 100,
    backlog: Annotated[
        str | None,
        typer.Option(metavar="SIZE", help="Replace consumerBacklogSizeGB, e.g. 50MiB."),
    ] = None,
    seed: Annotated[int | None, typer.Option(metavar="N", help="The runs' seed.")] = None,
    compare: Annotated[
        bool,
        typer.Option("--compare", help="Draw OMB-style charts of result files instead of running."),
    ] = False,
) -> None:
    """Run an OpenMessaging Benchmark workload on mqsim drivers, writing OMB result files.

    Reads an OMB workload file (every field of OMB's Workload; unknown keys are errors), maps
    it onto each --driver's broker (docs/omb.md says how), runs it as OMB's WorkloadGenerator
    does (readiness probe, warm-up, measured phase sampled every 10 s; producerRate: 0 finds
    the highest sustained rate by a loop of short runs; consumerBacklogSizeGB builds a backlog
    with consumers paused, then drains it) and writes DIR/WORKLOAD-DRIVER.json in OMB's
    TestResult shape, beside the files earlier runs wrote there.

    Presets: each driver runs its calibrated cost preset unless --preset names another:
    confluent-2020 (Kafka) or mqperf-2021 (RabbitMQ, SQS, Redis), fitted on those studies'
    published figures (docs/calibration.md); 'ideal' is mqsim's broker without costs, so
    without a capacity limit.

    Workloads name whole minutes: --duration and --warmup shorten them, and --period OMB's
    10 s sample. Workloads of many topics are sampled (--sample) and scaled back.

    With --compare, reads result files (mqsim's or OMB's own) and draws OMB's charts (publish
    rate, end-to-end and publish latency quantiles, one line per driver) into DIR; --period
    then gives the files' sample period (OMB's files carry none: 10 s).

    [bold]Examples[/bold]

      mqsim omb ../shared/omb/workloads/1-topic-1-partition-1kb.yaml --driver kafka \\
          --driver rabbitmq --duration 30s --warmup 10s --out results/omb

      mqsim omb --compare results/omb ../shared/omb/results --out results/omb-charts
    """
    if compare:
        if drivers:
            _fail(ScenarioError("not used with --compare, which reads result files", "--driver"))
        _omb_compare(paths, out, period)
        return
    from sim.omb import load_workload, run_workload, write_result
    from sim.omb.mapping import DRIVERS

    if len(paths) != 1:
        _fail(
            ScenarioError(f"expected one workload file, got {len(paths)} (--compare reads several)")
        )
    if not drivers:
        _fail(ScenarioError(f"required (known: {', '.join(DRIVERS)})", "--driver"))
    try:
        workload = load_workload(paths[0])
        options = [
            _omb_options(d, preset, duration, warmup, period, sample, backlog, seed)
            for d in dict.fromkeys(drivers or [])
        ]
    except ScenarioError as error:
        _fail(error)
        return
    target = _check_output(out if out is not None else Path("results") / "omb")
    stem = paths[0].name.removesuffix(".yaml").removesuffix(".yml")
    finished = []
    for option in options:
        try:
            run = run_workload(workload, option, progress=_progress_bar)
        except RunInterrupted as error:
            raise _Stopped(f"t={format_duration(error.at)} on driver {option.driver!r}") from None
        except ScenarioError as error:
            _fail(error if error.source else error.with_source(str(paths[0])))
            return
        for note in run.notes:
            typer.echo(f"{option.driver}: {note}", err=True)
        finished.append((f"{stem}-{option.driver}.json", run.test_result()))

    def write(folder: Path) -> None:
        _keep_previous(target, folder)
        for name, result in finished:
            write_result(result, folder / name)

    _replace_folder(target, write)
    grid = Grid(
        keys=["driver"],
        headers=["publish msg/s", "consume msg/s", "publish p99 ms", "e2e p50 ms", "e2e p99 ms"],
        title=workload.title,
    )
    for _, result in finished:
        rates = result["publishRate"], result["consumeRate"]
        grid.add_row(
            [result["driver"]],
            [
                f"{sum(rates[0]) / len(rates[0]):,.0f}",
                f"{sum(rates[1]) / len(rates[1]):,.0f}",
                f"{result['aggregatedPublishLatency99pct']:g}",
                f"{result['aggregatedEndToEndLatency50pct']:g}",
                f"{result['aggregatedEndToEndLatency99pct']:g}",
            ],
        )
    _print_grid(grid)
    names = ", ".join(name for name, _ in finished)
    _stdout().print(f"{names} in {target}/", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
