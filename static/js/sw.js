// Companion's service worker, served at /sw.js by companion.web.views.service_worker, which
// fills in the shell list and its version (companion/web/pwa.py).
//
// It caches the app shell only: stylesheets, scripts, icons, the manifest and the offline
// page. Pages, API answers, clips and portraits are never cached: a chat page carries its
// conversation in the HTML, and message content must not outlive the session on the device.
// Navigations go to the network; only when that fails does the offline page answer.
// It also opens the conversation at the clip when a "scene is ready" notification is clicked.
/* eslint-env serviceworker */
"use strict";

const VERSION = "__SHELL_VERSION__";
const SHELL = ["__SHELL_URLS__"];
const OFFLINE_URL = "__OFFLINE_URL__";
const CACHE = `companion-shell-${VERSION}`;
const SHELL_PATHS = new Set(SHELL.map((url) => new URL(url, self.location.origin).pathname));

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("companion-shell-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // Always the network (pages hold conversations); the offline page only when it fails.
    event.respondWith(fetch(request).catch(async () => (await caches.match(OFFLINE_URL)) || Response.error()));
    return;
  }
  if (!SHELL_PATHS.has(url.pathname)) return; // APIs, clips, portraits: straight to the network, never stored
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(url.pathname);
    return hit || fetch(request);
  })());
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  if (target.origin !== self.location.origin) return;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({type: "window", includeUncontrolled: true});
    const same = windows.find((client) => new URL(client.url).pathname === target.pathname);
    if (same) {
      await same.focus();
      same.postMessage({type: "companion:open", url: target.href});
      return;
    }
    await self.clients.openWindow(target.href);
  })());
});
