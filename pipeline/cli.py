"""The `journeyrank` command line: a thin coat over the jobs; exit 0 ok, 2 bad input, 1 anything else."""

from __future__ import annotations

import os
import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer._click.exceptions import ClickException

from features.errors import ContractError
from pipeline.simulate.config import SCALES

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

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1

ScaleName = Enum("ScaleName", {name: name for name in SCALES}, type=str)


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
) -> None:
    """Simulate an online shop: journeys, incidents, noisy monitoring, and the truth behind them."""
    from pipeline.simulate import SimulationConfig
    from pipeline.simulate import simulate as run_simulation

    config = SimulationConfig(out=out, days=days, seed=seed, scale=scale.value, events=events)
    with console.status("simulating") as status:
        result = run_simulation(config, progress=lambda step: status.update(f"simulating: {step}"))
    for path in result.files.values():
        console.print(f"  wrote {path}")
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
    console.print(f"[green]ok[/green]: {data_dir} meets the data contract")


@app.command()
def demo() -> None:
    """What `make demo` runs: the main job end to end on the embedded sample data."""
    from features.settings import load_settings
    from pipeline.demo import run_demo

    run_demo(load_settings(), console)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input exits 2 with its one-line message, anything unexpected exits 1."""
    try:
        app(args=argv, standalone_mode=False)
    except ContractError as err:
        errors.print(f"[red]error[/red]: {err}", highlight=False, soft_wrap=True)
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
        if os.environ.get("JOURNEYRANK_DEBUG"):
            traceback.print_exc()
        errors.print(
            f"[red]failed[/red]: {type(err).__name__}: {err}", highlight=False, soft_wrap=True
        )
        errors.print("(set JOURNEYRANK_DEBUG=1 for the traceback)", style="dim")
        return EXIT_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
