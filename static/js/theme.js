// Colour theme: "auto" (the system's prefers-color-scheme), "light" or "dark", kept in the
// "theme" cookie so the server renders <html data-theme> right on the first paint (no flash,
// no inline script). Loaded synchronously in <head> of every page, the Django admin included, so it
// stays a classic script (a module is deferred: the page would paint before data-theme is set):
// - sets data-theme from the cookie where the server could not (the 500 page, the admin);
// - marks <html class="js"> (CSS shows script-only controls, e.g. the phone menu button);
// - wires every [data-theme-toggle] button (cycles system -> light -> dark), the admin's own
//   .theme-toggle button, and [name=theme] radios (applied at once, saved by their form too).
(() => {
  "use strict";

  const MODES = ["auto", "light", "dark"];
  const NAMES = {auto: "system", light: "light", dark: "dark"};
  const root = document.documentElement;
  root.classList.add("js");

  function read() {
    const match = document.cookie.match(/(?:^|;\s*)theme=(auto|light|dark)(?:;|$)/);
    return match ? match[1] : "auto";
  }

  function label() {
    const mode = root.dataset.theme || "auto";
    for (const button of document.querySelectorAll("[data-theme-toggle]")) {
      const text = button.querySelector(".theme-switch-label");
      if (text) text.textContent = `Theme: ${NAMES[mode]}`;
    }
    for (const radio of document.querySelectorAll("input[name=theme]")) radio.checked = radio.value === mode;
  }

  function set(mode) {
    if (!MODES.includes(mode)) mode = "auto";
    root.dataset.theme = mode;
    const secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `theme=${mode}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
    label();
    document.dispatchEvent(new CustomEvent("companion:theme", {detail: {mode}}));
  }

  function cycle() {
    const mode = root.dataset.theme || "auto";
    set(MODES[(MODES.indexOf(mode) + 1) % MODES.length]);
  }

  // The server knows the cookie for ordinary pages; this covers pages rendered without it.
  if (!MODES.includes(root.dataset.theme || "") || root.dataset.theme !== read()) root.dataset.theme = read();

  document.addEventListener("DOMContentLoaded", () => {
    label();
    document.addEventListener("click", (event) => {
      const button = event.target.closest("[data-theme-toggle], .theme-toggle");
      if (!button) return;
      event.preventDefault();
      cycle();
    });
    document.addEventListener("change", (event) => {
      if (event.target.matches("input[name=theme]")) set(event.target.value);
    });
  });

  window.CompanionTheme = {get: () => root.dataset.theme || "auto", set, cycle};
})();
