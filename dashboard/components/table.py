"""A plain HTML table: rows of cells, with a class per row for status colours."""

from __future__ import annotations

from dash import html


def table(
    headers: list[str],
    rows: list[list],
    row_classes: list[str] | None = None,
    table_id: str | None = None,
) -> html.Div:
    """Wide tables scroll inside their box so the page itself keeps the window's width."""
    row_classes = row_classes or [""] * len(rows)
    return html.Div(
        html.Table(
            [
                html.Thead(html.Tr([html.Th(h) for h in headers])),
                html.Tbody(
                    [
                        html.Tr([html.Td(c) for c in row], className=cls)
                        for row, cls in zip(rows, row_classes, strict=True)
                    ]
                ),
            ],
            className="grid",
            **({"id": table_id} if table_id else {}),
        ),
        className="table-responsive",
    )
