"""``market``: fetch a book or the spot tickers once, from the command line."""

from __future__ import annotations

import json
from decimal import Decimal

import click
from flask.cli import AppGroup

from backend.desk import current_desk
from backend.market.binance_spot import BinanceSpot
from backend.market.book import Market
from backend.market.errors import MarketDataError
from backend.market.pricing import walk
from backend.market.sources import NAMES, make_source

market_cli = AppGroup("market", help="Market data.")


@market_cli.command("snapshot")
@click.option("--source", type=click.Choice(NAMES), default="simulator", show_default=True)
@click.option("--asset", default="USDT", show_default=True)
@click.option("--fiat", default="VES", show_default=True)
@click.option("--venue", type=click.Choice(["p2p", "spot"]), default="p2p", show_default=True)
@click.option(
    "--side",
    type=click.Choice(["BUY", "SELL"], case_sensitive=False),
    default="BUY",
    show_default=True,
    help="The taker's side as in the Binance request: BUY walks asks.",
)
@click.option("--size", type=Decimal, default=None, help="Ticket in asset units.")
@click.option("--json", "as_json", is_flag=True)
def market_snapshot(source, asset, fiat, venue, side, size, as_json) -> None:
    """Fetch one side of one book once and print it with its reference prices.

    Only the asked side is requested. A failure prints one line on stderr and exits 1.
    """
    desk = current_desk()
    side = side.upper()
    if size is not None and (not size.is_finite() or size <= 0):
        raise click.BadParameter("must be a positive number", param_hint="--size")
    try:
        market = Market.parse(f"{venue}:{asset}/{fiat}")
        feed = make_source(source, desk.settings)
        ads = feed.fetch_side(market, side)
    except (MarketDataError, ValueError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    fetched_at = desk.now()
    fill = walk(ads, size) if size is not None else None
    result = {
        "market": market.key,
        "source": feed.name,
        "side": side,
        "fetched_at": fetched_at.isoformat(),
        "best_price": str(ads[0].price) if ads else None,
        "size": None if size is None else str(size),
        "effective_price": None if fill is None or fill.price is None else str(fill.price),
        "fillable": None if fill is None else fill.complete,
        "ads": [ad.to_dict() for ad in ads],
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{market.label} {side} from {feed.name} at {result['fetched_at']}")
    click.echo(
        f"best {result['best_price']}  effective@{size} {result['effective_price']}  "
        f"fillable {result['fillable']}"
    )
    for ad in ads:
        click.echo(
            f"  {ad.price:>14} qty {ad.quantity:>14} limits {ad.min_amount}-"
            f"{ad.max_amount} {','.join(ad.methods)} {ad.advertiser.nick}"
        )


@market_cli.command("tickers")
@click.option("--json", "as_json", is_flag=True)
def market_tickers(as_json: bool) -> None:
    """Best bid and ask on Binance spot for every SPOT_SYMBOLS symbol, in one request."""
    try:
        tickers = BinanceSpot(current_desk().settings).book_tickers()
    except MarketDataError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    rows = {
        symbol: {k: None if v is None else str(v) for k, v in vars(t).items() if k != "symbol"}
        for symbol, t in tickers.items()
    }
    if as_json:
        click.echo(json.dumps(rows))
        return
    for symbol, t in rows.items():
        click.echo(f"{symbol:<10} bid {t['bid']} ({t['bid_qty']})  ask {t['ask']} ({t['ask_qty']})")
