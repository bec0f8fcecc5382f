// The chat page's frame around chat.js (which it does not edit; it listens to chat.js's events):
// - the composer rides above the on-screen keyboard: the page is sized to the *visual*
//   viewport (--app-height / --app-top), and a conversation read to the end stays at the end;
// - screen readers hear each finished reply once, in #chat-announcer (polite), instead of
//   every streamed token (the message list itself is not a live region);
// - the Memory panel takes focus when it opens and gives it back to its button when it closes;
// - #message-<id> in the address (a "scene is ready" notification links there) scrolls to
//   that message, highlights and focuses it, also once it arrives later.
// A module (deferred): it runs after the page is parsed, after chat.js.

const chatSection = document.getElementById("chat");
const messageList = document.getElementById("messages");
if (chatSection && messageList) setup(chatSection, messageList);

function setup(chat, list) {
  const personaName = chat.dataset.personaName || "";
  const root = document.documentElement;

  // --- the visual viewport -------------------------------------------------------------------

  let atEnd = true;
  list.addEventListener("scroll", () => {
    atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }, {passive: true});

  const viewport = window.visualViewport;
  function fit() {
    if (Math.abs(viewport.scale - 1) > 0.01) {
      // Pinch-zoomed: the visual viewport is a magnifier, not the keyboard. Leave the layout alone.
      root.style.removeProperty("--app-height");
      root.style.removeProperty("--app-top");
      document.body.classList.remove("vv-offset");
      return;
    }
    root.style.setProperty("--app-height", `${Math.round(viewport.height)}px`);
    const top = Math.max(0, Math.round(viewport.offsetTop));
    root.style.setProperty("--app-top", `${top}px`);
    document.body.classList.toggle("vv-offset", top > 0);
    if (atEnd) list.scrollTop = list.scrollHeight;
  }
  if (viewport) {
    viewport.addEventListener("resize", fit);
    viewport.addEventListener("scroll", fit);
    fit();
  }

  // --- announcements -------------------------------------------------------------------------

  const announcer = document.getElementById("chat-announcer");
  function announce(text) {
    if (!announcer || !text) return;
    const line = document.createElement("p");
    line.textContent = text;
    announcer.append(line);
    while (announcer.children.length > 3) announcer.firstElementChild.remove();
  }

  document.addEventListener("companion:frame", (event) => {
    const frame = event.detail || {};
    const message = frame.message || {};
    if (frame.type === "message.done" && message.role === "persona" && message.kind === "text") {
      if (message.status === "complete") announce(`${personaName}: ${message.content || ""}`);
      else if (message.status === "interrupted") announce(`${personaName}'s reply was stopped.`);
    } else if (frame.type === "render.done") {
      announce(`${personaName}'s ${frame.job && frame.job.kind === "reel" ? "reel" : "scene"} is ready.`);
    } else if (frame.type === "render.failed") {
      announce("The clip could not be made.");
    }
  });

  // --- the Memory panel's focus --------------------------------------------------------------

  const panel = document.getElementById("memory-panel");
  const toggle = document.getElementById("memory-toggle");
  if (panel && toggle) {
    new MutationObserver(() => {
      if (!panel.hidden) {
        const close = document.getElementById("memory-close");
        if (close) close.focus();
        return;
      }
      const active = document.activeElement;
      if (!active || active === document.body || panel.contains(active)) toggle.focus();
    }).observe(panel, {attributes: true, attributeFilter: ["hidden"]});
  }

  // --- #message-<id>: open the conversation at one message ----------------------------------

  let wanted = null;
  const PIN_MS = 4000;

  // Keep `node` in view while the page settles (videos learning their size, the history sync
  // after the socket opens), until the user scrolls themselves.
  function pin(node) {
    let until = Date.now() + PIN_MS;
    const again = () => {
      if (Date.now() < until) node.scrollIntoView({block: "center"});
    };
    const stop = () => {
      until = 0;
    };
    for (const type of ["wheel", "touchstart", "keydown"]) list.addEventListener(type, stop, {once: true, passive: true});
    list.addEventListener("loadedmetadata", again, true); // media events do not bubble: capture
    const observer = new ResizeObserver(again);
    for (const child of list.children) observer.observe(child);
    setTimeout(() => {
      observer.disconnect();
      list.removeEventListener("loadedmetadata", again, true);
    }, PIN_MS);
  }

  function reveal(id) {
    const node = list.querySelector(`[data-message-id="${Number(id)}"]`);
    if (!node || node.hidden) return false;
    node.tabIndex = -1;
    node.classList.add("is-target");
    node.scrollIntoView({block: "center"});
    node.focus({preventScroll: true});
    pin(node);
    setTimeout(() => node.classList.remove("is-target"), 6000);
    return true;
  }
  function fromHash() {
    const match = window.location.hash.match(/^#message-(\d+)$/);
    wanted = match && !reveal(match[1]) ? match[1] : null;
  }
  document.addEventListener("companion:message-rendered", (event) => {
    const message = (event.detail || {}).message;
    if (wanted && message && String(message.id) === wanted) {
      // After chat.js has placed it (and maybe scrolled to the end).
      setTimeout(() => {
        if (wanted && reveal(wanted)) wanted = null;
      }, 0);
    }
  });
  window.addEventListener("hashchange", fromHash);
  // A click on a notification while this conversation is open (static/js/sw.js).
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      const data = event.data || {};
      if (data.type !== "companion:open" || !data.url) return;
      const target = new URL(data.url, window.location.href);
      if (target.origin !== window.location.origin) return;
      if (target.pathname !== window.location.pathname) {
        window.location.assign(target.href);
        return;
      }
      if (window.location.hash === target.hash) fromHash();
      else window.location.hash = target.hash;
    });
  }
  fromHash();
}
