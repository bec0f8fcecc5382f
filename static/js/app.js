// Every page: the site menu and the service worker (an ES module, like every script but theme.js).
//
// - The menu button (.menu-button, aria-controls the nav) opens and closes the navigation
//   on phones and on the chat page; Escape or a click elsewhere closes it and focus returns
//   to the button.
// - toasts (lib/toast.js, imported by the modules that show them) need #toast-region, in base.html.
// - The service worker (static/js/sw.js, served at /sw.js) caches the app shell only; see there.
// A module: document.currentScript is null here, so the worker's URL is read from the tag.
const script = document.querySelector("script[data-sw]");

// --- the menu ------------------------------------------------------------------------------

function setupMenu(button) {
  const menu = document.getElementById(button.getAttribute("aria-controls"));
  if (!menu) return;
  const header = button.closest(".site-header") || document.body;
  function setOpen(open, {focusButton = false} = {}) {
    button.setAttribute("aria-expanded", String(open));
    header.classList.toggle("menu-open", open);
    if (open) {
      const first = menu.querySelector("a, button");
      if (first) first.focus();
    } else if (focusButton) {
      button.focus();
    }
  }
  button.addEventListener("click", () => setOpen(button.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || button.getAttribute("aria-expanded") !== "true") return;
    event.stopPropagation();
    setOpen(false, {focusButton: true});
  });
  document.addEventListener("click", (event) => {
    if (button.getAttribute("aria-expanded") !== "true") return;
    if (menu.contains(event.target) || button.contains(event.target)) return;
    setOpen(false);
  });
  menu.addEventListener("focusout", (event) => {
    // Tabbing out of the open menu closes it (but not a click inside it).
    if (event.relatedTarget && !menu.contains(event.relatedTarget) && event.relatedTarget !== button) setOpen(false);
  });
}
document.querySelectorAll(".menu-button[aria-controls]").forEach(setupMenu);

// --- the service worker (app shell only) -----------------------------------------------------

const swUrl = script && script.dataset.sw;
if (swUrl && "serviceWorker" in navigator && window.isSecureContext) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register(swUrl, {scope: "/"}).catch(() => {
      // Not fatal: the site works without it, it is just not installable offline.
    });
  });
}
