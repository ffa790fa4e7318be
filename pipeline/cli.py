"""The `journeyrank` command line: a thin coat over the jobs; exit 0 ok, 2 bad input, 1 anything else."""

from __future__ import annotations

import os
import sys
import traceback
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import ClickException

from features.errors import ContractError
from pipeline.simulate.config import SCALES
from pipeline.simulate.worlds import DEFAULT_WORLD, WORLDS

app = typer.Typer(
    name="journeyrank",
    help="Rank monitoring alerts by their probability of real user impact at customer-journey stages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Wide enough for the tables when output goes to a file or a CI log rather than a terminal.
console = Console(width=None if sys.stdout.isatty() else 120)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def shown(value: object) -> str:
    """User text (paths, reasons, URIs, error messages with install hints) as rich must print it:
    literally, so `[spark]` in `pip install 'journeyrank[spark]'` is not taken for markup."""
    return escape(str(value))


EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1
AUDIT_FAILED = 3  # `journeyrank audit --fail-on`: the verdict reached the level asked for

ScaleName = Enum("ScaleName", {name: name for name in SCALES}, type=str)
WorldName = Enum("WorldName", {name: name for name in WORLDS}, type=str)


class Engine(StrEnum):
    """Where an offline job runs: this machine (pandas) or Spark (SPARK_MASTER, spark-submit, or local[2])."""

    pandas = "pandas"
    spark = "spark"


EngineOption = Annotated[
    Engine, typer.Option(help="pandas: this machine; spark: the same definitions on Spark.")
]


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Data directory to write.")],
    days: Annotated[int, typer.Option(min=1, help="Days to simulate.")] = 14,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed writes byte-identical files.")
    ] = 7,
    scale: Annotated[
        ScaleName, typer.Option(help="small: 5-min windows; large: 1-min windows and 1M+ alerts.")
    ] = ScaleName.small,
    events: Annotated[
        bool, typer.Option("--events", help="Also write raw session_events.parquet.")
    ] = False,
    period: Annotated[
        int,
        typer.Option(
            min=0,
            help="Which period of the seed's world: the same services, rules and teams, "
            "with what happens in it drawn afresh (0 is the sample's).",
        ),
    ] = 0,
    start: Annotated[
        str | None,
        typer.Option(
            help="First day, YYYY-MM-DD (midnight UTC). Default: 2026-10-05, and for a later "
            "period the day after the period before it (2026-10-05 + period × days).",
        ),
    ] = None,
    shift: Annotated[
        list[str] | None,
        typer.Option(
            help="Shift the whole period (repeatable): traffic_mix, new_service, retuned_rules, "
            "map_change or degraded_detector (the default world only). simulation.json records them.",
        ),
    ] = None,
    world: Annotated[
        WorldName,
        typer.Option(help="Which organisation to simulate (README, Worlds)."),
    ] = WorldName[DEFAULT_WORLD],
) -> None:
    """Simulate an organisation: journeys, incidents, noisy monitoring, and the truth behind them."""
    from datetime import UTC, datetime

    from pipeline.simulate import SHIFTS, SimulationConfig
    from pipeline.simulate import simulate as run_simulation

    for name in shift or []:
        if name not in SHIFTS:
            raise ContractError("--shift", "option", f"one of {', '.join(SHIFTS)}", got=name)
    if shift and not WORLDS[world.value].supports_shifts:
        shifting = ", ".join(name for name, w in WORLDS.items() if w.supports_shifts)
        raise ContractError(
            "--shift", "option", f"no shift outside the {shifting} world", got=world.value
        )
    first_day = None
    if start is not None:
        try:
            first_day = datetime.strptime(start, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise ContractError("--start", "option", "a date as YYYY-MM-DD", got=start) from None
    config = SimulationConfig(
        out=out,
        days=days,
        seed=seed,
        scale=scale.value,
        events=events,
        start=first_day,
        period=period,
        shifts=tuple(shift or ()),
        world=world.value,
    )
    with console.status("simulating") as status:
        result = run_simulation(config, progress=lambda step: status.update(f"simulating: {step}"))
    for path in result.files.values():
        console.print(f"  wrote {shown(path)}")
    console.print(
        f"period {config.period} from {config.start:%Y-%m-%d}, "
        f"shifts: {', '.join(config.shifts) or 'none'}"
    )
    console.print(
        f"{result.rows['alerts']:,} alerts, {result.rows['journey_outcomes']:,} outcome rows, "
        f"{result.rows['incidents']} incidents; {result.impact_rate:.1%} of alerts had true user impact "
        f"({result.seconds:.1f} s)"
    )


@app.command()
def validate(
    data_dir: Annotated[
        Path, typer.Argument(help="Data directory in the contract (docs/data-contract.md).")
    ],
) -> None:
    """Check every file of a data directory against the contract and print a profile of the data."""
    from pipeline.validate import render_profile, validate_data_dir

    profile = validate_data_dir(data_dir)
    console.print(render_profile(profile))
    console.print(f"[green]ok[/green]: {shown(data_dir)} meets the data contract")


@app.command()
def aggregate(
    events: Annotated[Path, typer.Option(help="session_events file (Parquet or CSV).")],
    out: Annotated[Path, typer.Option(help="journey_outcomes file to write (.parquet or .csv).")],
    window_min: Annotated[int, typer.Option(min=1, help="Window width in minutes.")] = 5,
    engine: EngineOption = Engine.pandas,
) -> None:
    """Turn raw session events into journey outcomes, streaming (memory stays bounded)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipeline.aggregate import aggregate as run_aggregate

    columns = (TextColumn("aggregating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("events", total=None)
        result = run_aggregate(
            events,
            out,
            window_min,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            engine=engine.value,
        )
    console.print(
        f"{result.events_read:,} events → {len(result.outcomes):,} outcome rows in {result.partitions} partition(s); "
        f"{result.orphan_events:,} events without an enter dropped"
    )
    console.print(f"  wrote {shown(out)}")


@app.command()
def features(
    data: Annotated[Path, typer.Option(help="Data directory in the contract.")],
    out: Annotated[
        Path,
        typer.Option(help="Parquet file to write: features + labels + impact_weight per alert."),
    ],
    engine: EngineOption = Engine.pandas,
) -> None:
    """Label every alert and compute its point-in-time features (plus the spec and the catalogue)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from features.build import FAMILIES
    from pipeline.features import run_features

    steps = ["baselines", "labels", "history indexes", *FAMILIES]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("features", total=len(steps))
        result = run_features(
            data,
            out,
            progress=lambda step: bar.update(task, advance=1, description=step),
            engine=engine.value,
        )
    frame = result.table.frame
    labelled = frame["label"].notna()
    console.print(
        f"{len(frame):,} alerts × {len(result.spec.features)} features; {int(frame.loc[labelled, 'label'].sum()):,} "
        f"of {int(labelled.sum()):,} labelled alerts had user impact ({frame.loc[labelled, 'label'].mean():.1%})"
    )
    if result.truth_agreement is not None:
        a = result.truth_agreement
        console.print(
            f"labels against the simulator's truth: precision {a['precision']:.2f}, recall {a['recall']:.2f}, "
            f"impact-weighted recall {a['iw_recall']:.2f} "
            f"(derived impact rate {a['derived_rate']:.1%}, true {a['true_rate']:.1%})"
        )
    for path in (result.out, result.spec_path, result.catalogue_path):
        console.print(f"  wrote {shown(path)}")


def _steps(description: str):
    """A spinner that names the current step of a long job."""
    return console.status(description)


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Data directory in the contract.")],
    config: Annotated[
        Path | None, typer.Option(help="YAML overriding the training config.")
    ] = None,
    feedback: Annotated[
        Path | None, typer.Option(help="Extra feedback verdicts (Parquet or CSV).")
    ] = None,
) -> None:
    """Train, compare with today's orderings on held-out days, log to MLflow, register, gate @champion."""
    from features.settings import load_settings
    from pipeline.render import comparison
    from pipeline.train import train as run_train
    from pipeline.train_config import load_train_config

    settings = load_settings()
    with _steps("training") as status:
        result = run_train(
            data,
            settings,
            load_train_config(config),
            feedback,
            progress=lambda step: status.update(f"training: {step}"),
        )
    split = result.split
    console.print(
        f"trained on {len(split.train):,} alerts, early-stopped on {len(split.validation):,} "
        f"({split.validation_start:%Y-%m-%d} → {split.test_start:%Y-%m-%d}), held out {len(split.test):,} "
        f"({split.test_start:%Y-%m-%d} → {split.end:%Y-%m-%d}); best iteration {result.ranker.booster.best_iteration}"
    )
    console.print(
        comparison(result.evaluation, f"held-out days, page budget {result.evaluation.budget:.0%}")
    )
    console.print(
        f"registered {result.ranker.info.get('registered_model', 'journeyrank')} v{result.version}: "
        f"{shown(result.decision.sentence())}"
    )
    console.print(
        f"MLflow run {result.run_id} — `mlflow ui --backend-store-uri {settings.tracking_uri}`"
    )


@app.command()
def evaluate(
    model: Annotated[str, typer.Option(help="Model URI, e.g. models:/journeyrank@champion.")],
    data: Annotated[Path, typer.Option(help="Data directory in the contract.")],
) -> None:
    """Print the comparison table for any registered model on any data directory."""
    from features.settings import load_settings
    from pipeline.evaluate import evaluate_model
    from pipeline.render import comparison, frame_table, grouping_line

    with _steps("evaluating"):
        result = evaluate_model(model, data, load_settings())
    version = f" (v{result.version})" if result.version else ""
    console.print(
        comparison(
            result.evaluation,
            f"{shown(model)}{version} on {shown(data)}: {result.alerts:,} labelled alerts",
        )
    )
    stage = result.evaluation.slices["stage"]
    model_rows = stage[stage["ranking"] == "model"].set_index("stage")[
        ["alerts", "positives", "pr_auc", "iw_recall_at_10pct"]
    ]
    console.print(frame_table(model_rows, "the model by stage", "stage"))
    console.print(grouping_line(result.grouping))


@app.command()
def score(
    model: Annotated[str, typer.Option(help="Model URI, e.g. models:/journeyrank@champion.")],
    data: Annotated[
        Path, typer.Option(help="Data directory: the history each alert is scored against.")
    ],
    alerts: Annotated[Path, typer.Option(help="Alerts to rank (alerts schema, Parquet or CSV).")],
    out: Annotated[Path, typer.Option(help="Ranked output (.parquet or .csv).")],
    engine: Annotated[
        Engine, typer.Option(help="spark: rank with mlflow.pyfunc.spark_udf on the model.")
    ] = Engine.pandas,
) -> None:
    """Batch ranking: each alert scored as if live at its fired_at, with context from DATA."""
    from features.settings import load_settings
    from models.tiers import TIERS
    from pipeline.score import score as run_score

    with _steps("scoring"):
        result = run_score(model, data, alerts, out, load_settings(), engine=engine.value)
    tiers = result.ranked["tier"].value_counts().reindex(list(TIERS), fill_value=0)
    console.print(
        f"{len(result.ranked):,} alerts ranked: "
        + ", ".join(f"{t} {n:,}" for t, n in tiers.items())
    )
    console.print(f"  wrote {shown(out)}")


@app.command()
def promote(
    version: Annotated[str, typer.Option(help="Registered model version to make @champion.")],
    reason: Annotated[str, typer.Option(help="Why, for the record.")],
) -> None:
    """Move @champion by hand; the reason is tagged on the version and logged."""
    from features.settings import load_settings
    from pipeline.promote import promote as run_promote

    result = run_promote(version, reason, load_settings())
    was = f" (was v{result.previous})" if result.previous else ""
    console.print(f"@champion → v{result.version}{was}: {shown(result.reason)}")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    model: Annotated[
        str | None, typer.Option(help="Model URI (default: JOURNEYRANK_MODEL or @champion).")
    ] = None,
    warm_from: Annotated[
        Path | None, typer.Option(help="Fill an empty state store from this data directory.")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="BentoML worker processes.")] = None,
) -> None:
    """Import the model from the MLflow registry into BentoML and serve it (Ctrl-C stops)."""
    from features.settings import load_settings
    from pipeline.serve import import_model, serve_until_stopped, start_service

    settings = load_settings()
    imported = import_model(settings, model)
    console.print(
        f"imported {shown(imported.uri)} (v{imported.version}) as BentoML model {shown(imported.tag)}"
    )
    console.print(
        f"serving on http://{host}:{port} — POST /rank, /journey-metrics, /changes, /feedback; docs at /docs"
    )
    process = start_service(settings, port, host, warm_from, workers)
    raise typer.Exit(serve_until_stopped(process))  # SIGTERM, SIGINT, SIGHUP: forwarded, waited for


@app.command("export-log")
def export_log(
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    since: Annotated[
        str | None, typer.Option(help="Only entries logged at or after this time (ISO 8601).")
    ] = None,
) -> None:
    """Export the inference log (every ranked alert, its features, scores and versions) for audits."""
    from features.settings import load_settings
    from models.inference_log import InferenceLog
    from pipeline.io import parse_since, write_atomically

    frame = InferenceLog.in_home(load_settings().home).export(parse_since(since))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda tmp: frame.to_parquet(tmp, index=False))
    console.print(f"{len(frame):,} logged alerts → {shown(out)}")


@app.command()
def outcomes(
    data: Annotated[Path, typer.Option(help="Data directory in the contract.")],
    out: Annotated[
        Path, typer.Option(help="Directory for outcomes.html, outcomes.json, episodes.csv.")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            help="Model URI to replay (pages its P1-P2), e.g. models:/journeyrank@champion."
        ),
    ] = None,
    budget: Annotated[
        float, typer.Option(help="Page budget of the reference policies: share of alerts paged.")
    ] = 0.10,
    since: Annotated[
        str | None, typer.Option(help="Report from this time on (ISO 8601 with a time zone).")
    ] = None,
) -> None:
    """Time to restore journey continuity, conversion stability, and a replay of paging policies."""
    from features.settings import load_settings
    from pipeline.outcomes import run_outcomes
    from pipeline.render import frame_table
    from pipeline.reports.outcomes import replay_digest

    with _steps("outcomes"):
        result = run_outcomes(data, out, load_settings(), model, budget, since)
    found = result.outcomes
    console.print(
        f"{len(found.episodes):,} degradation episodes in {found.days:.1f} days "
        f"({found.period_start:%Y-%m-%d %H:%M} → {found.period_end:%Y-%m-%d %H:%M} UTC)"
    )
    title = f"replay of paging policies (references at a {budget:.0%} page budget)"
    console.print(frame_table(replay_digest(result.replay), title, "policy"))
    for path in result.files:
        console.print(f"  wrote {shown(path)}")
    console.print(f"MLflow run {result.run_id} (experiment outcomes)")


@app.command("shadow-report")
def shadow_report_command(
    since: Annotated[
        str, typer.Option(help="Report alerts fired from this time on (ISO 8601 with a time zone).")
    ],
    data: Annotated[
        Path | None,
        typer.Option(help="Data directory whose outcomes (and feedback) label the period."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Directory for shadow_report.json and shadow_demoted_harmful.csv."),
    ] = None,
) -> None:
    """What the model would have changed while it ran in shadow: pages saved, impact kept and missed."""
    from features.settings import load_settings
    from pipeline.render import frame_table
    from pipeline.shadow_report import run_shadow_report

    with _steps("shadow report"):
        report, demoted, files = run_shadow_report(load_settings(), since, data, out)
    for line in report.lines():
        console.print(shown(line), highlight=False)
    if len(demoted):
        worst = demoted.head(10).set_index("alert_id")
        console.print(
            frame_table(worst, "demoted below a page, and hurt users (worst first)", "alert_id")
        )
    for path in files:
        console.print(f"  wrote {shown(path)}")


@app.command("export-feedback")
def export_feedback_command(
    out: Annotated[Path, typer.Option(help="Feedback file to write (.parquet or .csv).")],
) -> None:
    """Export the verdicts posted to /feedback, for `journeyrank train --feedback FILE`."""
    from features.settings import load_settings
    from pipeline.feedback_export import export_feedback

    rows = export_feedback(load_settings(), out)
    console.print(f"{rows:,} verdicts (the latest per alert) → {shown(out)}")


class FailOn(StrEnum):
    investigate = "investigate"
    retrain = "retrain"


@app.command()
def audit(
    model: Annotated[str, typer.Option(help="Model URI, e.g. models:/journeyrank@champion.")],
    data: Annotated[
        Path,
        typer.Option(help="Data directory whose outcomes (and feedback) label the period."),
    ],
    out: Annotated[Path, typer.Option(help="Directory for audit.html and audit.json.")],
    since: Annotated[
        str | None,
        typer.Option(help="Audit alerts fired from this time on (ISO 8601 with a time zone)."),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            help=f"Exit {AUDIT_FAILED} when the verdict reaches this level (for CI and cron)."
        ),
    ] = None,
) -> None:
    """Is the model still the one we trained? Feature and score drift, coverage, performance, verdict."""
    from features.settings import load_settings
    from pipeline.audit import run_audit
    from pipeline.render import frame_table

    with _steps("auditing"):
        result = run_audit(model, data, out, load_settings(), since)
    found = result.audit
    console.print(
        f"{found.alerts:,} alerts from {shown(found.source)} "
        f"({found.period[0]:%Y-%m-%d %H:%M} → {found.period[1]:%Y-%m-%d %H:%M} UTC), "
        f"model {shown(found.model_uri)} v{found.version}"
    )
    moved = found.features[found.features["level"] != "stable"]
    if len(moved):
        columns = ["feature", "importance_rank", "gain_share", "psi", "test", "p_value", "level"]
        table = moved[columns].head(10).set_index("feature")
        console.print(
            frame_table(table, "features that moved (PSI on the training bins)", "feature")
        )
    colour = {"ok": "green", "investigate": "yellow", "retrain": "red"}[found.verdict.level]
    console.print(f"verdict: [bold {colour}]{found.verdict.level}[/bold {colour}]")
    for reason in found.verdict.reasons:
        console.print(f"  - {shown(reason)}", highlight=False)
    for path in (result.html, result.json):
        console.print(f"  wrote {shown(path)}")
    console.print(f"MLflow run {result.run_id} (experiment audits)")
    if fail_on is not None and result.reaches(fail_on.value):
        raise typer.Exit(AUDIT_FAILED)


@app.command("map-check")
def map_check(
    data: Annotated[Path, typer.Option(help="Data directory whose history is checked.")],
    out: Annotated[
        Path, typer.Option(help="Directory for map_check.json, map_patch.yaml, map_check.html.")
    ],
    model: Annotated[
        str | None,
        typer.Option(help="Check the map and baselines this model was trained with instead."),
    ] = None,
) -> None:
    """Where the journey map is wrong: unmapped services, doubtful links, sparse stages; a patch to review."""
    from features.settings import load_settings
    from pipeline.map_check import check_map

    with _steps("checking the map"):
        result = check_map(data, out, load_settings(), model)
    found = result.check.found
    suggested = found.unmapped[found.unmapped["suggested"]]
    console.print(
        f"{result.check.alerts:,} alerts, {len(result.check.episodes):,} degradation episodes; "
        f"{len(suggested)} of {len(found.unmapped)} unmapped services precede degradations"
    )
    for row in suggested.itertuples():
        links = ", ".join(f"{s['journey']}/{s['stage']} ({s['link']})" for s in row.stages)
        console.print(f"  {row.service}: {links}, lift {row.lift:.1f} (≥ {row.evidence:.1f})")
    for row in found.renamed.itertuples():
        console.print(f"  renamed: {row.service} (the map says {', '.join(row.replaces)})")
    for row in found.doubtful.itertuples():
        console.print(f"  doubtful {row.what}: {row.service} → {row.target}", highlight=False)
    for path in result.files:
        console.print(f"  wrote {path}")
    console.print(f"MLflow run {result.run_id} (experiment map-checks)")


@app.command()
def demo() -> None:
    """What `make demo` runs: the main job end to end on the embedded sample data."""
    from features.settings import load_settings
    from pipeline.demo import run_demo

    run_demo(load_settings(), console)


# OpenMP threads that wait at a barrier sleep instead of spinning. With LightGBM on every core,
# spinning threads that lose a core to another process made training 2-3x slower on a shared
# 2-core machine (benchmarks/train.py data); on idle cores passive waiting cost nothing measurable.
# libgomp reads this once, when LightGBM is first imported, so main() sets it before any job runs.
PROCESS_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def _quiet_libraries() -> None:
    """MLflow narrates every artifact it copies; the jobs print what matters themselves."""
    import logging
    import warnings

    # MLflow configures its loggers on import
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input exits 2 with its one-line message, anything unexpected exits 1."""
    for name, value in PROCESS_ENVIRONMENT.items():
        os.environ.setdefault(name, value)  # an explicit setting wins
    _quiet_libraries()
    try:
        # outside standalone mode click hands back a command's typer.Exit code as the result
        code = app(args=argv, standalone_mode=False)
    except ContractError as err:
        errors.print(f"[red]error[/red]: {shown(err)}", highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    except typer.Exit as done:
        return done.exit_code
    except ClickException as err:  # usage errors: a missing option, a value out of its choices
        err.show()
        return EXIT_BAD_INPUT
    except typer.Abort:
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # the last line of defence: one readable line, the traceback on demand
        if _debugging():
            traceback.print_exc()
        errors.print(
            f"[red]failed[/red]: {type(err).__name__}: {shown(err)}",
            highlight=False,
            soft_wrap=True,
        )
        errors.print("(set JOURNEYRANK_DEBUG=1 for the traceback)", style="dim")
        return EXIT_FAILURE
    return code if isinstance(code, int) else 0


def _debugging() -> bool:
    """JOURNEYRANK_DEBUG, read as a setting; a setting that does not parse is no reason to hide."""
    try:
        from features.settings import load_settings

        return load_settings().debug
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
