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

  // Execute: a button whose click reaches the server as the grid's cellRendererData;
  // disabled with the reason beside it (and as its tooltip).
  cells.ExecuteButton = function (props) {
    const d = props.data || {};
    const button = h(
      "button",
      {
        className: "btn btn-sm btn-primary execute",
        disabled: !!d.execute_disabled,
        title: d.execute_title || "",
        onClick: function () { props.setData(d.id); },
      },
      props.value
    );
    if (!d.execute_disabled) return button;
    return h("div", { className: "execute-cell" }, button,
      h("div", { className: "why-not" }, d.execute_title));
  };

  // A phone: columns whose context says wideOnly give way below 768 px, so the
  // rest fits the screen without scrolling sideways; they come back on a wider window.
  const fns = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});
  fns.fitPhone = function (params) {
    const api = params.api;
    const wide = window.innerWidth >= 768;
    const show = [], hide = [];
    (api.getColumns() || []).forEach(function (c) {
      const context = c.getColDef().context || {};
      if (!context.wideOnly && !context.phoneOnly) return;
      const wanted = context.wideOnly ? wide : !wide;
      if (wanted !== c.isVisible()) (wanted ? show : hide).push(c);
    });
    if (show.length) api.setColumnsVisible(show, true);
    if (hide.length) api.setColumnsVisible(hide, false);
    if (show.length || hide.length) api.resetRowHeights();  // an autoHeight column came or went
  };

  // Seconds left until `field` (epoch milliseconds), counting down every second.
  cells.Countdown = function (props) {
    const left = function () { return Math.max(0, Math.round((props.value - Date.now()) / 1000)); };
    const state = React.useState(left());
    React.useEffect(function () {
      const timer = setInterval(function () { state[1](left()); }, 1000);
      return function () { clearInterval(timer); };
    }, [props.value]);
    return h("span", { className: state[0] <= 5 ? "text-warning" : "" }, state[0] + " s");
  };
})();
