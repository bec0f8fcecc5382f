// A JSON websocket that reconnects: exponential backoff with jitter after a dropped
// connection, at once when the browser comes back online, never after a close code the
// server uses to say "do not come back" (`finalCodes`, from the server's page config).
//
// onOpen() runs on every (re)connect, onFrame(frame) for each parsed frame, onState(name, label)
// when the connection changes ("connecting", "open", "closed"), onFinal(code) after a final close.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;

export function reconnectingSocket({url, finalCodes = [], onOpen, onFrame, onState, onFinal}) {
  const absolute = new URL(url, window.location.href);
  absolute.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  const final = new Set(finalCodes.map(Number));
  let socket = null;
  let attempts = 0;
  let timer = null;
  let closedForGood = false;

  function connect() {
    clearTimeout(timer);
    onState("connecting", attempts ? "Reconnecting…" : "Connecting…");
    const current = new WebSocket(absolute.href);
    socket = current;
    current.addEventListener("open", () => {
      attempts = 0;
      onState("open", "Connected");
      onOpen();
    });
    current.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (frame && typeof frame === "object") onFrame(frame);
    });
    current.addEventListener("close", (event) => {
      if (socket !== current) return;
      socket = null;
      if (final.has(event.code)) {
        closedForGood = true;
        onFinal(event.code);
        return;
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (closedForGood) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempts);
    const delay = base / 2 + Math.random() * (base / 2); // jitter: tabs do not reconnect in lockstep
    attempts += 1;
    onState("closed", `Disconnected; retrying in ${Math.ceil(delay / 1000)} s`);
    timer = setTimeout(connect, delay);
  }

  window.addEventListener("online", () => {
    if (!socket && !closedForGood) {
      attempts = 0;
      connect();
    }
  });

  connect();

  return {
    // True when the frame went out; false while disconnected.
    send(frame) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(frame));
      return true;
    },
  };
}
