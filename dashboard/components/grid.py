"""Every table is an AG Grid: sortable, filterable, resizable columns, and a row id so a
refresh updates rows in place (the scroll position and the selection survive).

Cells show text formatted on the server (locale, precision, unit) while sorting and
filtering use the raw number beside it: a column ``field`` holds the number and
``field + "_text"`` what the trader reads. Renderers for badges, links and sparklines are
in ``assets/grid.js`` (no inline script: the CSP forbids it).
"""

from __future__ import annotations

import dash_ag_grid as dag

THEME = (
    "agGrid.themeQuartz.withPart(agGrid.colorSchemeDarkBlue)"
    ".withParams({spacing: 4, fontSize: 12, headerFontSize: 12})"
)


def grid(grid_id: str, columns: list[dict], row_id: str = "id", **options) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        getRowId=f"params.data.{row_id}",
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90},
        columnSize="responsiveSizeToFit",
        dashGridOptions={
            "domLayout": "autoHeight",
            "suppressCellFocus": True,
            "localeText": {"noRowsToShow": options.pop("empty", "—")},
            "theme": {"function": THEME},
        }
        | options.pop("grid_options", {}),
        className="desk-grid",
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
