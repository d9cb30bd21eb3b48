// Dash's date picker names months and weekdays in the browser's first language it has a
// date-fns locale for (en-US.min.js, es.min.js beside this file), else in the first one
// loaded. The desk's own language, chosen in the header and written on <html lang>, is
// the only one it sees, so a Spanish desk in an English browser reads "noviembre".
(function () {
  const lang = document.documentElement.lang;
  if (lang) {
    Object.defineProperty(navigator, "languages", { get: () => [lang], configurable: true });
  }
})();
