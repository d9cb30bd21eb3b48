// Trades page: the grid's cache emptied when the filter changes (purge: it asks again
// from the first row) or re-read when trades change (refresh: live statuses); a clicked
// row's detail scrolled into view.
(function () {
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.trades = {
    reload: function (filter, pushed, tick, acted) {
      let api = null;
      try {  // getApi throws until the grid has mounted (the call at page load)
        api = window.dash_ag_grid && window.dash_ag_grid.getApi("trades-grid");
      } catch (e) {
        api = null;
      }
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
    // A trade's detail newly shown (a row clicked, a link followed; not the same trade
    // re-read as it moves) is brought to the top of the view once drawn: it sits below
    // the grid, often below the window.
    reveal: function (shown, last) {
      const id = shown ? shown.id : null;
      if (id === null || id === last) {
        return window.dash_clientside.no_update;
      }
      setTimeout(function () {
        const detail = document.getElementById("trades-detail");
        if (detail && detail.getBoundingClientRect().top > window.innerHeight / 3) {
          detail.scrollIntoView({behavior: "smooth", block: "start"});
        }
      }, 100);
      return id;
    },
  };
})();
