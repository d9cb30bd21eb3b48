// Trades page: the status cell as a coloured badge, and the grid's cache emptied when the
// filter changes (purge) or re-read on the refresh tick (refresh), with no eval: the CSP
// allows no 'unsafe-eval', so the grid gets no function strings.
(function () {
  window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {};
  window.dashAgGridComponentFunctions.StatusBadge = function (props) {
    const label = props.data ? props.data.status_label : props.value;
    return React.createElement("span", { className: "badge " + props.value }, label);
  };
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.trades = {
    reload: function (filter, tick) {
      const api = window.dash_ag_grid && window.dash_ag_grid.getApi("trades-grid");
      if (api) {
        const byFilter = (window.dash_clientside.callback_context.triggered || []).some(
          function (t) { return t.prop_id === "trades-filter.data"; }
        );
        if (byFilter) {
          api.deselectAll();
          api.purgeInfiniteCache();
        } else {
          api.refreshInfiniteCache();
        }
      }
      return window.dash_clientside.no_update;
    },
  };
})();
