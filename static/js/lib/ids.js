// Client ids: a resent frame or request with the same id is applied once by the server.

export function newClientId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
