/* fibery-kb theme: light or dark as the system says, unless the reader chose one with the
   header's toggle (remembered in localStorage). Loaded in <head>, not deferred, so a chosen
   theme applies before the first paint; the toggle itself stays hidden without JavaScript. */
(function () {
  "use strict";
  var KEY = "kb-theme";
  var root = document.documentElement;
  var system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function effective() {
    var chosen = stored();
    if (chosen === "dark" || chosen === "light") return chosen;
    return system && system.matches ? "dark" : "light";
  }
  var chosen = stored();
  if (chosen === "dark" || chosen === "light") root.setAttribute("data-theme", chosen);

  function wire() {
    var button = document.querySelector("[data-theme-toggle]");
    if (!button) return;
    var label = button.querySelector(".visually-hidden");
    function sync() {
      var dark = effective() === "dark";
      button.setAttribute("aria-pressed", dark ? "true" : "false");
      button.title = dark ? "Dark mode is on" : "Dark mode is off";
      if (label) label.textContent = "Dark mode";
    }
    button.hidden = false;
    sync();
    button.addEventListener("click", function () {
      var next = effective() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem(KEY, next); } catch (e) { /* private mode: this page only */ }
      sync();
    });
    if (system && system.addEventListener) system.addEventListener("change", sync);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
