// One EventSource per page feed, outside React's renders: an element with data-stream
// (a URL) and data-target (a dcc.Store id) asks for it; each message lands in the store's
// `data`, and the store `<target>-live` says whether the stream is open (else the page
// polls). The element leaving the page closes its stream. Server-sent events reconnect
// by themselves when a stream ends; a refused one (204: no Redis, or the process is full)
// stays closed.
(function () {
  const open = {};
  function set(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, props);
    }
  }
  function mark(target, live) {  // for people and tests: is this page's stream open?
    document.querySelectorAll('[data-target="' + target + '"]').forEach(function (el) {
      el.setAttribute("data-live", live ? "true" : "false");
    });
  }
  function sync() {
    const wanted = {};
    document.querySelectorAll("[data-stream][data-target]").forEach(function (el) {
      wanted[el.dataset.target] = el.dataset.stream;
    });
    Object.keys(open).forEach(function (target) {
      if (wanted[target] !== open[target].wanted) {
        open[target].source.close();
        delete open[target];
      }
    });
    Object.keys(wanted).forEach(function (target) {
      if (open[target] || !wanted[target]) return;
      const source = new EventSource(wanted[target]);
      open[target] = { source: source, wanted: wanted[target] };
      source.onopen = function () { mark(target, true); set(target + "-live", { data: true }); };
      source.onmessage = function (event) { set(target, { data: event.data }); };
      source.onerror = function () {
        if (source.readyState === EventSource.CLOSED) {
          mark(target, false);
          set(target + "-live", { data: false });
        }
      };
    });
  }
  new MutationObserver(sync).observe(document.documentElement, { childList: true, subtree: true });
})();
