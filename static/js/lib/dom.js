// Building the page from data: every piece of text goes in with textContent, never as HTML.

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// A type=button button; `title` also names it for screen readers.
export function button(label, className, onClick, title) {
  const node = el("button", className, label);
  node.type = "button";
  if (title) {
    node.title = title;
    node.setAttribute("aria-label", title);
  }
  if (onClick) node.addEventListener("click", onClick);
  return node;
}

// An http(s) URL (resolved against the page) or null: never javascript:, data: and the like.
export function safeUrl(raw) {
  if (!raw) return null;
  try {
    const url = new URL(raw, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (_) {
    return null;
  }
}

// What the server rendered with {{ value|json_script:"id" }} (allowed by the CSP: it is data,
// not a script), or `fallback` when the page has none.
export function readJson(id, fallback = null) {
  const node = document.getElementById(id);
  if (!node) return fallback;
  try {
    return JSON.parse(node.textContent);
  } catch (_) {
    return fallback;
  }
}
