"""Every table is an AG Grid: sortable, filterable, resizable columns, and a row id so a
refresh updates rows in place (the scroll position and the selection survive).

Cells show text formatted on the server (locale, precision, unit) while sorting and
filtering use the raw number beside it: a column ``field`` holds the number and
``field + "_text"`` what the trader reads. Renderers for badges, links and sparklines are
in ``assets/grid.js`` (no inline script: the CSP forbids it).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import dash_ag_grid as dag

from dashboard.i18n import locale

# AG Grid's own words (filter menus, paging) in Spanish: AG_GRID_LOCALE_ES from the
# @ag-grid-community/locale npm package of the grid's version (35.3), as JSON.
GRID_WORDS = {"es": Path(__file__).parents[1] / "translations" / "ag-grid-es.json"}


@functools.cache
def grid_words(code: str) -> dict:
    path = GRID_WORDS.get(code)
    return json.loads(path.read_text()) if path else {}


THEME = (
    "agGrid.themeQuartz.withPart(agGrid.colorSchemeDarkBlue)"
    ".withParams({spacing: 4, fontSize: 12, headerFontSize: 12})"
)

# Columns marked with ``WIDE_ONLY`` hide on a phone, ``PHONE_ONLY`` ones show only there
# (assets/grid.js, fitPhone): the grid checks whenever its rows arrive (none at all
# included) and whenever its width changes.
WIDE_ONLY = {"context": {"wideOnly": True}}  # not headerClass: rightAligned sets it
PHONE_ONLY = {"context": {"phoneOnly": True}, "hide": True}
PHONE_FIT = {
    "modelUpdated": ["fitPhone(params)"],
    "gridSizeChanged": ["fitPhone(params)"],
}


def grid(grid_id: str, columns: list[dict], row_id: str = "id", **options) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        getRowId=f"params.data.{row_id}",
        defaultColDef={
            "sortable": True,
            "filter": True,
            "resizable": True,
            "minWidth": 90,
            "wrapHeaderText": True,  # Spanish headers are longer: wrap, do not cut
            "autoHeaderHeight": True,
        },
        columnSize="responsiveSizeToFit",
        dashGridOptions={
            "domLayout": "autoHeight",
            "suppressCellFocus": True,
            "localeText": grid_words(locale()) | {"noRowsToShow": options.pop("empty", "—")},
            "theme": {"function": THEME},
        }
        | options.pop("grid_options", {}),
        className="desk-grid",
        eventListeners=PHONE_FIT,
        **({"style": {"width": "100%"}} | options),
    )


def text(field: str, header: str, **extra) -> dict:
    return {"field": field, "headerName": header, **extra}


def number(field: str, header: str, **extra) -> dict:
    """A number shown as its ``_text`` companion, sorted and filtered as a number."""
    return {
        "field": field,
        "headerName": header,
        "type": "rightAligned",
        "filter": "agNumberColumnFilter",
        "valueFormatter": {"function": f"params.data.{field}_text"},
        **extra,
    }


def badge(field: str, header: str, **extra) -> dict:
    """A badge: ``field + "_text"`` (else the value) in colour class ``field + "_class"``,
    tooltip ``field + "_title"``; sorted and filtered on ``field``."""
    return {"field": field, "headerName": header, "cellRenderer": "Badge", **extra}
