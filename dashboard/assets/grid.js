// Cell renderers for the desk's AG Grids (dash-ag-grid looks them up by
// name). Plain React elements: no inline script, no eval, so the CSP holds.
(function () {
  const h = React.createElement;
  const cells = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

  // A badge: its text in `field + "_text"` (else the value), its colour class in
  // `field + "_class"`, a tooltip in `field + "_title"`.
  cells.Badge = function (props) {
    const f = props.colDef.field, d = props.data || {};
    const text = d[f + "_text"] !== undefined ? d[f + "_text"] : props.value;
    if (text === null || text === undefined || text === "") return null;
    return h("span", { className: "badge " + (d[f + "_class"] || ""), title: d[f + "_title"] || "" }, text);
  };

  // A link inside the desk: the text in `field`, the address in `field + "_href"`.
  cells.Link = function (props) {
    const href = props.data[props.colDef.field + "_href"];
    return href ? h("a", { href: href, className: "grid-link" }, props.value) : props.value;
  };

  // A sparkline of the numbers in `field`, scaled to the cell.
  cells.Sparkline = function (props) {
    const values = (props.value || []).map(Number).filter(Number.isFinite);
    if (values.length < 2) return null;
    const w = 90, hgt = 22, lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    const span = hi - lo || 1;
    const points = values
      .map((v, i) => ((i * w) / (values.length - 1)).toFixed(1) + "," + (hgt - 2 - ((v - lo) * (hgt - 4)) / span).toFixed(1))
      .join(" ");
    const up = values[values.length - 1] >= values[0];
    return h(
      "svg",
      { width: w, height: hgt, viewBox: "0 0 " + w + " " + hgt, className: "sparkline" },
      h("polyline", { points: points, fill: "none", stroke: up ? "#2fbf71" : "#e5534b", strokeWidth: 1.5 })
    );
  };
})();
