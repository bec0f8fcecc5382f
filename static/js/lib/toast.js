// A short message in #toast-region (role=status, polite, on every page), gone after a few seconds.

export function toast(text, {timeout = 5000} = {}) {
  const region = document.getElementById("toast-region");
  if (!region || !text) return;
  const item = document.createElement("p");
  item.className = "toast";
  item.textContent = text;
  region.append(item);
  setTimeout(() => item.remove(), timeout);
}
