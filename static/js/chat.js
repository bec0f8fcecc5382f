// Chat page: one websocket per conversation (protocol: companion/chat/PROTOCOL.md).
//
// The store (chat/store.js) holds the messages, the view (chat/view.js) draws them, the socket
// (lib/socket.js) reconnects; this module turns frames into store updates and user actions
// into frames. The page config (#chat-boot, json_script) carries the conversation, its
// history, the message limit, the socket's path and the close codes the server uses.
//
// Other modules extend the page without editing this one: they import `chat` (send a frame,
// read messages) and listen to the "companion:frame" and "companion:message-rendered" events.
// - After a dropped connection it reconnects and asks for history.sync {after_seq: highest
//   changed_seq seen}; messages are keyed by id, so replays never duplicate and nothing
//   changed while away is missed.
// - A reply outlives its socket: after a reload, history.sync hands back a reply that is
//   still streaming (its exact text so far) and its deltas keep coming, placed by `offset`
//   (applyDelta); message.done's content is final and replaces what was streamed.
//   Stop is the only way to end a reply early.

import {readJson} from "./lib/dom.js";
import {newClientId} from "./lib/ids.js";
import {reconnectingSocket} from "./lib/socket.js";
import {createStore, slotOf} from "./chat/store.js";
import {createView} from "./chat/view.js";

const FRAMES = {
  send: "message.send",
  regenerate: "message.regenerate",
  stop: "message.stop",
  edit: "message.edit",
  remove: "message.delete",
  select: "message.select",
  sync: "history.sync",
};
// Error codes that answer a message.send (the pending bubble shows them, with Retry).
const SEND_ERRORS = new Set(["empty_text", "too_long", "rate_limited", "busy", "invalid_frame", "muted",
  "no_one_present"]);

const boot = readJson("chat-boot");

// The page's chat, for the modules that extend it (evolve.js, memory.js); null off the chat page.
export const chat = boot ? start(boot) : null;

function start(boot) {
  const form = document.getElementById("composer");
  const input = document.getElementById("composer-text");
  const stopButton = document.getElementById("stop-button");
  const store = createStore({lastSeq: boot.last_seq});
  // A group scene (scene.js): the persona picked to answer goes with each message; null lets the scene decide.
  let answerer = null;
  const view = createView({boot, store, actions: {flip, regenerate, edit, remove, resend: sendText}});
  const closeCodes = boot.close_codes;
  const socket = reconnectingSocket({
    url: boot.socket_url,
    finalCodes: Object.values(closeCodes),
    onState: view.setConnection,
    onOpen() {
      socket.send({type: FRAMES.sync, after_seq: store.maxChangedSeq});
      store.syncing = true;
      for (const [clientId, item] of store.pending) {
        socket.send(sendFrameFor(item.text, clientId, item.personaId));
      }
    },
    onFrame: handleFrame,
    onFinal(code) {
      store.syncing = false;
      if (code === closeCodes.unauthenticated) {
        view.setConnection("closed", "Signed out");
        view.showError("Your session has ended. Log in again to keep chatting.", "not_authenticated");
      } else {
        view.setConnection("closed", "Unavailable");
        view.showError("This conversation is not available.", "forbidden");
      }
    },
  });

  function sendFrame(frame) {
    if (socket.send(frame)) return true;
    // message.send is idempotent by client_id and is resent after reconnecting.
    if (frame.type !== FRAMES.send) view.showError("Not connected; reconnecting…", "offline");
    return false;
  }

  function upsert(message) {
    if (!message || message.id === undefined || message.id === null) return;
    if (!store.merge(message)) return;
    if (message.client_id && store.pending.has(message.client_id)) {
      store.pending.get(message.client_id).element.remove();
      store.pending.delete(message.client_id);
    }
    view.refreshSlot(slotOf(message));
    view.refreshChrome();
  }

  // --- actions --------------------------------------------------------------------

  function sendText(text) {
    if (!text.trim()) return;
    // The server counts code points (len()), not UTF-16 units.
    if (Array.from(text).length > boot.max_chars) {
      view.showError(`Messages are limited to ${boot.max_chars} characters.`, "too_long");
      return;
    }
    view.clearError();
    const clientId = newClientId();
    store.pending.set(clientId, {text, personaId: answerer, element: view.renderPending(clientId, text)});
    sendFrame(sendFrameFor(text, clientId, answerer));
  }

  function sendFrameFor(text, clientId, personaId) {
    const frame = {type: FRAMES.send, text, client_id: clientId};
    if (personaId) frame.persona_id = personaId;
    return frame;
  }

  function regenerate(message) {
    view.clearError();
    sendFrame({type: FRAMES.regenerate, message_id: message.id});
  }

  function flip(message, members, step) {
    const index = members.findIndex((m) => m.id === message.id);
    const target = members[index + step];
    if (!target) return;
    store.chosen.set(slotOf(message), target.id);
    view.refreshSlot(slotOf(message));
    // Tell the server which version counts from now on (the prompt uses the active one).
    sendFrame({type: FRAMES.select, message_id: target.id});
    view.focusAltNav(target.id, step);
  }

  function edit(message, text) {
    sendFrame({type: FRAMES.edit, message_id: message.id, text});
  }

  function remove(message) {
    if (!window.confirm("Delete your last message and the reply to it?")) return;
    sendFrame({type: FRAMES.remove, message_id: message.id});
  }

  function stop() {
    const live = store.streaming();
    if (live) sendFrame({type: FRAMES.stop, message_id: live.id});
  }

  // Errors carry no client_id: they answer the oldest send still waiting.
  function failPending(detail) {
    const first = store.pending.entries().next();
    if (first.done) return false;
    const [clientId, item] = first.value;
    store.pending.delete(clientId);
    view.failPending(item, detail);
    return true;
  }

  // --- frames ---------------------------------------------------------------------

  // Ask for what changed since the newest change we hold; one request at a time (the
  // answer to the one in flight may already carry what a later gap is missing).
  function requestSync() {
    if (store.syncing) return;
    if (sendFrame({type: FRAMES.sync, after_seq: store.maxChangedSeq})) store.syncing = true;
  }

  // `offset` is where `text` starts in the reply. A delta that ends within what we hold is
  // a replay (it came before a history frame that already had it): ignored. One that starts
  // inside it replaces from there on (the server's text wins). One that starts past it means
  // deltas were missed: history.sync hands back the exact text so far, and the deltas after
  // it continue from there. message.done then replaces the whole text with the final one.
  function applyDelta(frame) {
    const known = store.messages.get(frame.message_id);
    if (!known) {
      requestSync(); // a reply we have not heard of (its message.created came before this socket)
      return;
    }
    if (known.status !== "streaming") return; // finished: message.done's content is final
    // Offsets count code points (the server's len()), not UTF-16 units: an emoji is one.
    const text = frame.text || "";
    const held = Array.from(known.content || "");
    const offset = typeof frame.offset === "number" ? frame.offset : held.length;
    if (offset > held.length) {
      requestSync();
      return;
    }
    if (offset + Array.from(text).length <= held.length) return;
    known.content = held.slice(0, offset).join("") + text;
    view.refreshBody(known);
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "message.delta":
        applyDelta(frame);
        break;
      case "history":
        (frame.messages || []).forEach(upsert);
        if (frame.more) {
          store.syncing = sendFrame({type: FRAMES.sync, after_seq: store.maxChangedSeq});
        } else {
          store.syncing = false;
          // Everything up to last_seq is now known (history is ordered by changed_seq).
          if (frame.last_seq) store.maxChangedSeq = Math.max(store.maxChangedSeq, Number(frame.last_seq) || 0);
        }
        break;
      case "error":
        if (!(SEND_ERRORS.has(frame.code) && failPending(frame.detail || frame.code))) {
          view.showError(frame.detail || "Something went wrong.", frame.code);
        }
        break;
      default:
        // message.created / message.done / message.updated: anything carrying messages is merged by id.
        if (frame.message) upsert(frame.message);
        if (Array.isArray(frame.messages)) frame.messages.forEach(upsert);
    }
    if (frame.type === "history" || (frame.type && frame.type.startsWith("message.") && frame.type !== "message.delta")) {
      view.refreshChrome();
    }
    document.dispatchEvent(new CustomEvent("companion:frame", {detail: frame}));
  }

  // --- composer ---------------------------------------------------------------------

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    sendText(text);
    input.value = "";
    autoGrow();
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape") {
      stop();
    }
  });
  input.addEventListener("input", autoGrow);
  stopButton.addEventListener("click", stop);

  (boot.messages || []).forEach(upsert);
  view.refreshChrome();
  view.scrollToEnd();

  return {
    conversationId: boot.conversation_id,
    send: sendFrame,
    messages: store.messages,
    setAnswerer(personaId) {
      answerer = personaId || null;
    },
  };
}
