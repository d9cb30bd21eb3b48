"""``backtest FILE.jsonl``: a recorded session through the scan, risk checks and paper fills."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from backend.desk import current_desk
from backend.trading import backtest


@click.command("backtest")
@click.argument("recording", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--latency",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds of recorded time between finding an opportunity and executing it.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@with_appcontext
def backtest_command(recording: Path, latency: float, as_json: bool) -> None:
    """Play RECORDING (see RECORD_PATH) at full speed in a throwaway database; report trades,
    fills, rejections by reason, profit by strategy and the maximum drawdown."""
    report = backtest.run(recording, current_desk().settings, latency)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
        return
    body = report.as_json()
    click.echo(f"{body['books']} books from {body['from']} to {body['to']}, {body['scans']} scans")
    click.echo(
        f"{body['opportunities']} opportunities -> {body['trades']} trades: {body['fills']} "
        f"filled, {body['rejected']} rejected, {body['failures']} failed, "
        f"{body['unexecuted']} not executed before the end"
    )
    for reason, count in body["rejections"].items():
        click.echo(f"  rejected {count:>5}  {reason}")
    for strategy, profit in body["profit_by_strategy"].items():
        click.echo(f"  profit {strategy:<14} {profit} USD")
    click.echo(f"profit {body['profit_usd']} USD, maximum drawdown {body['max_drawdown_usd']} USD")
