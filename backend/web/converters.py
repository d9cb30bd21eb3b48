"""URL converters that read ids as the desk writes them.

Werkzeug's ``int`` matches ``\\d``, which in Python takes every script's digits: ``/trades/١``
(an Arabic-Indic 1) answered trade 1. Ids are ASCII digits; anything else is no route.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter


class AsciiIntegerConverter(IntegerConverter):
    regex = r"[0-9]+"


def init_app(app) -> None:
    """Before any route is added: rules compile their converters when registered."""
    app.url_map.converters["int"] = AsciiIntegerConverter
