// A session that ended (logout elsewhere, a new password, the user disabled) makes the
// desk's callbacks answer 401: go to the login and come back here afterwards.
(function () {
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    return fetch0(input, init).then(function (response) {
      const url = typeof input === "string" ? input : input.url;
      if (response.status === 401 && url.indexOf("/_dash-") !== -1) {
        const next = window.location.pathname + window.location.search;
        window.location.assign("/login?next=" + encodeURIComponent(next));
      }
      return response;
    });
  };
})();
