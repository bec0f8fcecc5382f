// "Your clip is ready", when the page is not in front.
//
// On the chat page, a render.done frame that arrives while the tab is in the background
// (document.visibilityState === "hidden") puts a count in the tab title and a dot on the
// favicon, and, when the user allowed it, shows a notification ("Mira's scene is ready")
// that opens the conversation at the clip (#message-<id>, handled by chat-ui.js; the click
// goes through the service worker, static/js/sw.js). Nothing happens while the page is in
// front: the clip is right there. Coming back to the tab clears the badge.
//
// Permission is asked only from a click: when a render is queued, a small offer under the
// messages ("Notify me" / "Not now"; "Not now" is remembered), or the account page's button
// ([data-notify-enable]).
import {button, el} from "./lib/dom.js";
import {toast} from "./lib/toast.js";

const supported = "Notification" in window;
const DISMISSED = "companion.notify.dismissed";

async function ask() {
  if (!supported) {
    toast("This browser cannot show notifications.");
    return "denied";
  }
  const answer = await Notification.requestPermission();
  toast(answer === "granted"
    ? "Notifications are on: you will hear when a scene is ready."
    : "Notifications are off. You can allow them in the browser's site settings.");
  updateButtons();
  return answer;
}

function updateButtons() {
  for (const control of document.querySelectorAll("[data-notify-enable]")) {
    const state = supported ? Notification.permission : "unsupported";
    control.hidden = state !== "default";
    const note = document.getElementById(control.getAttribute("aria-describedby") || "");
    if (note) {
      note.textContent = {
        granted: "On: you get a notification when a scene is ready while Companion is in the background.",
        denied: "Blocked in this browser's site settings.",
        default: "Off. Turn them on to hear when a scene is ready while Companion is in the background.",
        unsupported: "This browser cannot show notifications.",
      }[state];
    }
  }
}
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-notify-enable]")) ask();
});
updateButtons();

// --- the chat page ---------------------------------------------------------------------------

const chat = document.getElementById("chat");
if (chat) chatPage(chat);

function chatPage(chat) {
  const persona = chat.dataset.personaName || "Your companion";
  const icon = document.querySelector("link[rel=icon][data-badge-href]");
  const plainIcon = icon ? icon.getAttribute("href") : null;
  const badgeIcon = icon ? icon.dataset.badgeHref : null;
  const notificationIcon = (document.querySelector("link[rel=icon][sizes='192x192']") || {}).href;
  const baseTitle = document.title;
  let ready = 0;
  let readyText = "";

  function background() {
    return document.visibilityState === "hidden";
  }

  function showBadge() {
    document.title = ready ? `(${ready}) ${readyText} · ${baseTitle}` : baseTitle;
    if (icon) icon.setAttribute("href", ready ? badgeIcon : plainIcon);
  }

  async function notify(title, url, tag) {
    if (!supported || Notification.permission !== "granted") return;
    const options = {body: "Open the chat to watch it.", icon: notificationIcon, badge: notificationIcon, tag, data: {url}};
    try {
      if ("serviceWorker" in navigator && navigator.serviceWorker.controller) {
        const registration = await navigator.serviceWorker.ready;
        await registration.showNotification(title, options);
        return;
      }
    } catch (_) {
      // fall through to a page notification
    }
    try {
      const notification = new Notification(title, options);
      notification.addEventListener("click", () => {
        window.focus();
        window.location.hash = new URL(url).hash;
        notification.close();
      });
    } catch (_) {
      // Some mobile browsers only allow notifications from a service worker.
    }
  }

  document.addEventListener("companion:frame", (event) => {
    const frame = event.detail || {};
    if (frame.type === "render.queued") offer();
    if (frame.type !== "render.done" || !background()) return;
    const what = frame.job && frame.job.kind === "reel" ? "reel" : "scene";
    readyText = `${persona}'s ${what} is ready`;
    ready += 1;
    showBadge();
    const anchor = frame.clip_message_id ? `#message-${Number(frame.clip_message_id)}` : "";
    const url = `${window.location.origin}${window.location.pathname}${anchor}`;
    notify(readyText, url, `clip-${frame.job_id || ""}`);
  });

  document.addEventListener("visibilitychange", () => {
    if (background() || !ready) return;
    ready = 0;
    showBadge();
  });

  // --- asking, once, from a click ------------------------------------------------------------

  function offer() {
    if (!supported || Notification.permission !== "default" || document.getElementById("notify-offer")) return;
    try {
      if (window.localStorage.getItem(DISMISSED)) return;
    } catch (_) {
      return;
    }
    const box = el("div", "notify-offer");
    box.id = "notify-offer";
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", "Notifications");
    const text = el("p", "", "Clips take a little while. Get a notification when it is ready?");
    const yes = button("Notify me", "small");
    const no = button("Not now", "small secondary");
    const input = document.getElementById("composer-text");
    yes.addEventListener("click", () => {
      box.remove();
      if (input) input.focus();
      ask();
    });
    no.addEventListener("click", () => {
      box.remove();
      if (input) input.focus();
      try {
        window.localStorage.setItem(DISMISSED, "1");
      } catch (_) {
        // private mode: ask again next time
      }
    });
    box.append(text, yes, no);
    const composer = document.getElementById("composer");
    if (composer) composer.before(box);
  }
}
