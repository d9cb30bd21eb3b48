// Cell renderers the grids name (no function strings: the CSP allows no 'unsafe-eval').
// Badge: the cell's text in a coloured badge; the colour class comes from the row's
// "<field>_class" value (filled, rejected, stale, live...).
(function () {
  window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {};
  window.dashAgGridComponentFunctions.Badge = function (props) {
    const cls = props.data ? props.data[props.colDef.field + "_class"] : "";
    return React.createElement("span", { className: "badge " + (cls || "") }, props.value);
  };
})();
