// Chat page: one websocket per conversation (protocol: README "Websocket protocol").
//
// Rules this file keeps:
// - User and model text is only ever put in the page with textContent, never as HTML:
//   roleplay *actions* and **strong** words become <em>/<strong> elements built with
//   createElement + textContent (emphasised()), not markup parsed from the text.
// - Every message is one <li data-message-id data-seq data-role data-kind data-status>
//   with a .message-actions container; other scripts (evolve.js, memory.js) extend it
//   through the "companion:frame" and "companion:message-rendered" events and
//   window.Companion, without editing this file.
// - After a dropped connection it reconnects with exponential backoff and asks for
//   history.sync {after_seq: highest changed_seq seen}; messages are keyed by id, so
//   replays never duplicate and nothing changed while away is missed.
// - A reply outlives its socket: after a reload, history.sync hands back a reply that is
//   still streaming (its exact text so far) and its deltas keep coming, placed by
//   `offset` (applyDelta); message.done's content is final and replaces what was streamed.
//   Stop is the only way to end a reply early.
(() => {
  "use strict";

  const FRAMES = {
    send: "message.send",
    regenerate: "message.regenerate",
    stop: "message.stop",
    edit: "message.edit",
    remove: "message.delete",
    select: "message.select",
    sync: "history.sync",
  };
  const MAX_CHARS = 8000;
  // Error codes that answer a message.send (the pending bubble shows them, with Retry).
  const SEND_ERRORS = new Set(["empty_text", "too_long", "rate_limited", "busy", "invalid_frame"]);
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;

  const bootNode = document.getElementById("chat-boot");
  if (!bootNode) return;
  const boot = JSON.parse(bootNode.textContent);
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("composer-text");
  const stopButton = document.getElementById("stop-button");
  const typing = document.getElementById("typing");
  const errorBox = document.getElementById("chat-error");
  const statusLabel = document.getElementById("connection-status");

  const state = {
    messages: new Map(), // id -> latest known message
    elements: new Map(), // id -> <li>
    pending: new Map(), // client_id -> {text, element}
    chosen: new Map(), // slot root id -> id the user flipped to locally
    maxChangedSeq: Number(boot.last_seq) || 0,
    socket: null,
    attempts: 0,
    reconnectTimer: null,
    closedForGood: false,
    syncing: false, // a history.sync is in flight (deltas past a gap wait for its answer)
  };

  // --- small helpers ---------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(label, className, onClick, title) {
    const b = el("button", className, label);
    b.type = "button";
    if (title) {
      b.title = title;
      b.setAttribute("aria-label", title);
    }
    b.addEventListener("click", onClick);
    return b;
  }

  // Roleplay emphasis: *an action* → <em>, **a word** → <strong>. The delimiters must hug the
  // text (no space just inside them) and an action does not start or end inside a word, so
  // "2*3*4" and "* list" stay as typed. An asterisk without its partner stays a plain asterisk:
  // a reply streaming "*smi" reads as typed until the closing "*" arrives. One line at most.
  const EMPHASIS = /(?<!\*)\*\*(?![\s*])([^*\n]*?[^\s*])\*\*(?!\*)|(?<![*\p{L}\p{N}])\*(?![\s*])([^*\n]*?[^\s*])\*(?![*\p{L}\p{N}])/gu;

  function emphasised(text) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(EMPHASIS)) {
      if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
      nodes.push(match[1] !== undefined ? el("strong", "", match[1]) : el("em", "", match[2]));
      last = match.index + match[0].length;
    }
    if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
    return nodes;
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function slotOf(message) {
    return message.parent_id || message.id;
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollToEnd() {
    list.scrollTop = list.scrollHeight;
  }

  function showError(detail, code) {
    errorBox.textContent = code ? `${detail} (${code})` : detail;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = "";
  }

  function setConnection(stateName, label) {
    statusLabel.dataset.state = stateName;
    statusLabel.textContent = label;
  }

  // --- message model -----------------------------------------------------------

  // Take `incoming` unless what we hold is newer: a later change (changed_seq) wins;
  // for the same change, a growing stream keeps whichever text is longer.
  function newer(incoming, known) {
    if (!known) return true;
    const a = Number(incoming.changed_seq) || 0;
    const b = Number(known.changed_seq) || 0;
    if (a !== b) return a > b;
    if (known.status === "streaming" && incoming.status !== "streaming") return true;
    if (incoming.status === "streaming" && known.status === "streaming") {
      return (incoming.content || "").length >= (known.content || "").length;
    }
    return true;
  }

  function upsert(message) {
    if (!message || message.id === undefined || message.id === null) return;
    state.maxChangedSeq = Math.max(state.maxChangedSeq, Number(message.changed_seq) || 0);
    const known = state.messages.get(message.id);
    if (!newer(message, known)) return;
    state.messages.set(message.id, message);
    if (message.client_id && state.pending.has(message.client_id)) {
      state.pending.get(message.client_id).element.remove();
      state.pending.delete(message.client_id);
    }
    if (message.role === "persona" && message.parent_id && !known && message.is_active) {
      state.chosen.delete(message.parent_id); // a fresh alternative is what the user wants to see
    }
    refreshSlot(slotOf(message));
    refreshChrome();
  }

  function slotMembers(root) {
    const members = [];
    for (const m of state.messages.values()) {
      if (slotOf(m) === root && !m.deleted) members.push(m);
    }
    members.sort((a, b) => a.seq - b.seq);
    return members;
  }

  function shownInSlot(members, root) {
    const chosen = state.chosen.get(root);
    const pick = members.find((m) => m.id === chosen);
    if (pick) return pick;
    const active = members.filter((m) => m.is_active);
    return active.length ? active[active.length - 1] : members[members.length - 1];
  }

  // Re-render every version of one reply slot (user messages are slots of one).
  function refreshSlot(root) {
    const members = slotMembers(root);
    for (const m of state.messages.values()) {
      if (slotOf(m) === root && m.deleted) removeElement(m.id);
    }
    if (!members.length) return;
    const shown = members.length > 1 ? shownInSlot(members, root) : members[0];
    for (const m of members) renderMessage(m, {hidden: m.id !== shown.id, members});
  }

  function removeElement(id) {
    const node = state.elements.get(id);
    if (node) node.remove();
    state.elements.delete(id);
  }

  function sortKey(message) {
    return [Number(message.position || message.seq) || 0, Number(message.seq) || 0];
  }

  function insertSorted(node, message) {
    const [p, s] = sortKey(message);
    for (const child of list.children) {
      if (child.dataset.pending) break; // pending sends stay last
      const cp = Number(child.dataset.position);
      const cs = Number(child.dataset.seq);
      if (cp > p || (cp === p && cs > s)) {
        list.insertBefore(node, child);
        return;
      }
    }
    const firstPending = list.querySelector("[data-pending]");
    list.insertBefore(node, firstPending);
  }

  function authorOf(message) {
    if (message.role === "user") return boot.user_name || "You";
    if (message.role === "persona") return boot.persona_name;
    return "";
  }

  // --- rendering ---------------------------------------------------------------

  function renderMessage(message, options = {}) {
    const stick = nearBottom();
    let node = state.elements.get(message.id);
    if (!node) {
      node = el("li", "message");
      const bubble = el("div", "bubble");
      const meta = el("div", "message-meta");
      meta.append(el("span", "author"), el("span", "status-label"));
      bubble.append(meta, el("div", "message-body"), el("div", "message-error"));
      const actions = el("div", "message-actions");
      actions.append(el("span", "core-actions"));
      node.append(bubble, actions);
      state.elements.set(message.id, node);
    }
    const positionChanged = node.dataset.position !== String(message.position || message.seq);
    node.dataset.messageId = message.id;
    node.dataset.seq = message.seq;
    node.dataset.position = message.position || message.seq;
    node.dataset.role = message.role;
    node.dataset.kind = message.kind;
    node.dataset.status = message.status;
    node.classList.toggle("from-user", message.role === "user");
    node.classList.toggle("from-persona", message.role === "persona");
    node.hidden = Boolean(options.hidden);

    node.querySelector(".author").textContent = authorOf(message);
    node.querySelector(".status-label").textContent = statusText(message);
    renderBody(node.querySelector(".message-body"), message);
    const errorNode = node.querySelector(".message-error");
    errorNode.textContent = message.status === "failed" ? message.error_detail || "The reply failed." : "";
    renderCoreActions(node.querySelector(".core-actions"), message, options.members);

    if (!node.isConnected || positionChanged) insertSorted(node, message);
    if (stick) scrollToEnd();
    document.dispatchEvent(new CustomEvent("companion:message-rendered", {detail: {element: node, message}}));
    return node;
  }

  function statusText(message) {
    if (message.status === "streaming") return "typing…";
    if (message.status === "interrupted") return "stopped";
    if (message.status === "failed") return "failed";
    if (message.extra && message.extra.edited) return "edited";
    return "";
  }

  function safeMediaUrl(raw) {
    try {
      const url = new URL(raw, window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function renderBody(body, message) {
    const clipUrl = message.kind === "clip" && message.extra ? safeMediaUrl(message.extra.clip_url || "") : null;
    if (clipUrl) {
      let video = body.querySelector("video");
      if (!video) {
        body.replaceChildren();
        video = el("video");
        video.controls = true;
        video.preload = "metadata";
        video.playsInline = true;
        body.append(video, el("p", "caption"));
      }
      if (video.getAttribute("src") !== clipUrl) video.src = clipUrl;
      body.querySelector(".caption").textContent = message.content || "";
      return;
    }
    if (message.status === "streaming" && !message.content) {
      body.replaceChildren();
      const dots = el("span", "dots");
      dots.setAttribute("aria-label", `${boot.persona_name} is typing`);
      dots.append(el("i"), el("i"), el("i"));
      body.append(dots);
      return;
    }
    body.replaceChildren(...emphasised(message.content || ""));
  }

  function isLast(message, predicate) {
    let last = null;
    for (const m of state.messages.values()) {
      if (m.deleted || !predicate(m)) continue;
      if (!last || m.seq > last.seq) last = m;
    }
    return last && last.id === message.id;
  }

  function streaming() {
    for (const m of state.messages.values()) if (m.status === "streaming" && !m.deleted) return m;
    return null;
  }

  function renderCoreActions(container, message, members) {
    container.replaceChildren();
    const busy = Boolean(streaming());
    if (message.role === "persona" && members && members.length > 1) {
      const index = members.findIndex((m) => m.id === message.id);
      const nav = el("span", "alt-nav");
      const prev = button("‹", "icon", () => flip(message, members, -1), "Previous version");
      const next = button("›", "icon", () => flip(message, members, +1), "Next version");
      prev.disabled = index <= 0 || busy;
      next.disabled = index >= members.length - 1 || busy;
      nav.append(prev, el("span", "alt-count", `${index + 1}/${members.length}`), next);
      container.append(nav);
    }
    if (message.role === "persona" && message.kind === "text" && message.status !== "streaming") {
      const lastReply = isLast(message, (m) => m.role === "persona" && m.kind === "text" && !m.parent_id);
      const rootLast = lastReply || (message.parent_id && isLastSlot(message.parent_id));
      if (rootLast) {
        const regen = button("↻ Regenerate", "small secondary", () => regenerate(message), "Write another version");
        regen.disabled = busy;
        container.append(regen);
      }
    }
    if (message.role === "user" && isLast(message, (m) => m.role === "user")) {
      const edit = button("Edit", "small secondary", () => startEdit(message), "Edit your last message");
      const del = button("Delete", "small danger", () => removeMessage(message), "Delete your last message");
      edit.disabled = del.disabled = busy;
      container.append(edit, del);
    }
  }

  // The slot whose first version is the latest persona text slot.
  function isLastSlot(root) {
    const first = state.messages.get(root);
    return first && isLast(first, (m) => m.role === "persona" && m.kind === "text" && !m.parent_id);
  }

  function refreshChrome() {
    const live = streaming();
    typing.hidden = !live;
    stopButton.hidden = !live;
    // Buttons depend on what is last/streaming: refresh the actions of visible messages.
    for (const [id, node] of state.elements) {
      const m = state.messages.get(id);
      if (!m || node.hidden) continue;
      const members = m.role === "persona" ? slotMembers(slotOf(m)) : null;
      renderCoreActions(node.querySelector(".core-actions"), m, members);
    }
  }

  function renderPending(clientId, text) {
    const node = el("li", "message from-user pending");
    node.dataset.pending = "1";
    node.dataset.clientId = clientId;
    node.dataset.role = "user";
    node.dataset.status = "sending";
    const bubble = el("div", "bubble");
    const meta = el("div", "message-meta");
    meta.append(el("span", "author", boot.user_name || "You"), el("span", "status-label", "sending…"));
    const body = el("div", "message-body");
    body.append(...emphasised(text));
    bubble.append(meta, body, el("div", "message-error"));
    node.append(bubble, el("div", "message-actions"));
    list.append(node);
    scrollToEnd();
    return node;
  }

  function failPending(detail) {
    // Errors carry no client_id: they answer the oldest send still waiting.
    const first = state.pending.entries().next();
    if (first.done) return false;
    const [clientId, item] = first.value;
    state.pending.delete(clientId);
    item.element.dataset.status = "failed";
    item.element.querySelector(".status-label").textContent = "not sent";
    item.element.querySelector(".message-error").textContent = detail;
    const actions = item.element.querySelector(".message-actions");
    actions.replaceChildren(
      button("Retry", "small secondary", () => {
        item.element.remove();
        sendText(item.text);
      }),
      button("Discard", "small secondary", () => item.element.remove()),
    );
    return true;
  }

  // --- actions ----------------------------------------------------------------

  function sendText(text) {
    if (!text.trim()) return;
    if (text.length > MAX_CHARS) {
      showError(`Messages are limited to ${MAX_CHARS} characters.`, "too_long");
      return;
    }
    clearError();
    const clientId = newClientId();
    state.pending.set(clientId, {text, element: renderPending(clientId, text)});
    sendFrame({type: FRAMES.send, text, client_id: clientId});
  }

  function regenerate(message) {
    clearError();
    sendFrame({type: FRAMES.regenerate, message_id: message.id});
  }

  function flip(message, members, step) {
    const index = members.findIndex((m) => m.id === message.id);
    const target = members[index + step];
    if (!target) return;
    state.chosen.set(slotOf(message), target.id);
    refreshSlot(slotOf(message));
    // Tell the server which version counts from now on (the prompt uses the active one).
    sendFrame({type: FRAMES.select, message_id: target.id});
    const node = state.elements.get(target.id);
    const again = node && node.querySelector(step < 0 ? ".alt-nav button:first-child" : ".alt-nav button:last-child");
    if (again && !again.disabled) again.focus();
  }

  function startEdit(message) {
    const node = state.elements.get(message.id);
    if (!node || node.querySelector(".edit-form")) return;
    const body = node.querySelector(".message-body");
    const editor = el("form", "edit-form");
    const area = el("textarea");
    area.value = message.content;
    area.rows = 3;
    area.setAttribute("aria-label", "Edit your message");
    const save = el("button", "small", "Save");
    save.type = "submit";
    const cancel = button("Cancel", "small secondary", () => finish());
    editor.append(area, save, cancel);
    body.hidden = true;
    body.after(editor);
    area.focus();
    function finish() {
      editor.remove();
      body.hidden = false;
      const edit = node.querySelector(".core-actions button");
      if (edit) edit.focus();
    }
    editor.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = area.value;
      if (!text.trim()) return;
      sendFrame({type: FRAMES.edit, message_id: message.id, text});
      finish();
    });
    area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") finish();
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        editor.requestSubmit();
      }
    });
  }

  function removeMessage(message) {
    if (!window.confirm("Delete your last message and the reply to it?")) return;
    sendFrame({type: FRAMES.remove, message_id: message.id});
  }

  function stop() {
    const live = streaming();
    if (live) sendFrame({type: FRAMES.stop, message_id: live.id});
  }

  // --- socket --------------------------------------------------------------------

  function sendFrame(frame) {
    const socket = state.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    // message.send is idempotent by client_id and is resent after reconnecting.
    if (frame.type !== FRAMES.send) showError("Not connected; reconnecting…", "offline");
    return false;
  }

  function socketUrl() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}/ws/conversations/${boot.conversation_id}/`;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    setConnection("connecting", state.attempts ? "Reconnecting…" : "Connecting…");
    const socket = new WebSocket(socketUrl());
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.attempts = 0;
      setConnection("open", "Connected");
      socket.send(JSON.stringify({type: FRAMES.sync, after_seq: state.maxChangedSeq}));
      state.syncing = true;
      for (const [clientId, item] of state.pending) {
        socket.send(JSON.stringify({type: FRAMES.send, text: item.text, client_id: clientId}));
      }
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      handleFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      state.syncing = false;
      if (event.code === 4401) {
        state.closedForGood = true;
        setConnection("closed", "Signed out");
        showError("Your session has ended. Log in again to keep chatting.", "not_authenticated");
        return;
      }
      if (event.code === 4403 || event.code === 4404) {
        state.closedForGood = true;
        setConnection("closed", "Unavailable");
        showError("This conversation is not available.", "forbidden");
        return;
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (state.closedForGood) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.attempts);
    const delay = base / 2 + Math.random() * (base / 2); // jitter: tabs do not reconnect in lockstep
    state.attempts += 1;
    setConnection("closed", `Disconnected; retrying in ${Math.ceil(delay / 1000)} s`);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  // Ask for what changed since the newest change we hold; one request at a time (the
  // answer to the one in flight may already carry what a later gap is missing).
  function requestSync() {
    if (state.syncing) return;
    if (sendFrame({type: FRAMES.sync, after_seq: state.maxChangedSeq})) state.syncing = true;
  }

  // `offset` is where `text` starts in the reply. A delta that ends within what we hold is
  // a replay (it came before a history frame that already had it): ignored. One that starts
  // inside it replaces from there on (the server's text wins). One that starts past it means
  // deltas were missed: history.sync hands back the exact text so far, and the deltas after
  // it continue from there. message.done then replaces the whole text with the final one.
  function applyDelta(frame) {
    const known = state.messages.get(frame.message_id);
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
    const node = state.elements.get(known.id);
    if (node) {
      const stick = nearBottom();
      renderBody(node.querySelector(".message-body"), known);
      if (stick) scrollToEnd();
    }
  }

  function handleFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "message.delta":
        applyDelta(frame);
        break;
      case "history":
        (frame.messages || []).forEach(upsert);
        if (frame.more) {
          state.syncing = sendFrame({type: FRAMES.sync, after_seq: state.maxChangedSeq});
        } else {
          state.syncing = false;
          // Everything up to last_seq is now known (history is ordered by changed_seq).
          if (frame.last_seq) state.maxChangedSeq = Math.max(state.maxChangedSeq, Number(frame.last_seq) || 0);
        }
        break;
      case "error":
        if (!(SEND_ERRORS.has(frame.code) && failPending(frame.detail || frame.code))) {
          showError(frame.detail || "Something went wrong.", frame.code);
        }
        break;
      default:
        // message.created / message.done / message.updated / history frames: anything
        // carrying messages is merged by id.
        if (frame.message) upsert(frame.message);
        if (Array.isArray(frame.messages)) frame.messages.forEach(upsert);
    }
    if (frame.type === "history" || (frame.type && frame.type.startsWith("message.") && frame.type !== "message.delta")) {
      refreshChrome();
    }
    document.dispatchEvent(new CustomEvent("companion:frame", {detail: frame}));
  }

  // --- composer ------------------------------------------------------------------

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
  window.addEventListener("online", () => {
    if (!state.socket && !state.closedForGood) {
      state.attempts = 0;
      connect();
    }
  });

  window.Companion = {
    conversationId: boot.conversation_id,
    send: sendFrame,
    renderMessage(message) {
      upsert(message);
      return state.elements.get(message.id) || null;
    },
    messages: state.messages,
  };

  (boot.messages || []).forEach(upsert);
  refreshChrome();
  scrollToEnd();
  connect();
})();
