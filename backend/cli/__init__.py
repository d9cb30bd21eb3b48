"""Operator commands, mounted on ``python -m backend`` (one module per command group)."""

from __future__ import annotations

from flask import Flask

from backend.cli.backtest import backtest_command
from backend.cli.backup import backup_command, restore_command
from backend.cli.balances import balances_cli, ledger_cli
from backend.cli.controls import controls_cli
from backend.cli.db import db_cli
from backend.cli.market import market_cli
from backend.cli.rates import rates_cli
from backend.cli.tickets import tickets_cli
from backend.cli.trades import trades_cli
from backend.cli.users import tokens_cli, users_cli


def register(app: Flask) -> None:
    groups = (db_cli, users_cli, tokens_cli, market_cli, controls_cli, rates_cli, tickets_cli)
    for group in (*groups, trades_cli, balances_cli, ledger_cli):
        app.cli.add_command(group)
    app.cli.add_command(backup_command)
    app.cli.add_command(backtest_command)
    app.cli.add_command(restore_command)
