// A callback that meets an outage answers 503 JSON naming the component (the database,
// Redis, the broker). Dash keeps the last content and shows nothing, so say it over the
// page until a callback succeeds again. Dash loads every file in assets/ (CSP: 'self').
(function () {
  "use strict";
  const CALLBACK = "/_dash-update-component";
  const original = window.fetch;

  function box() {
    let el = document.getElementById("outage-alert");
    if (!el) {
      el = document.createElement("div");
      el.id = "outage-alert";
      el.className = "banner outage";
      el.setAttribute("role", "alert");
      document.body.prepend(el);
    }
    return el;
  }

  window.fetch = async function (resource, init) {
    const response = await original.call(this, resource, init);
    const url = typeof resource === "string" ? resource : resource && resource.url;
    if (url && url.indexOf(CALLBACK) !== -1) {
      if (response.status === 503) {
        response
          .clone()
          .json()
          .then((body) => {
            const el = box();
            el.textContent = "Unavailable: " + (body.error || "a dependency is down") +
              ". The page shows the last data it loaded.";
            el.dataset.component = body.component || "";
            el.hidden = false;
          })
          .catch(() => {});
      } else if (response.ok) {
        const el = document.getElementById("outage-alert");
        if (el) el.hidden = true;
      }
    }
    return response;
  };
})();
