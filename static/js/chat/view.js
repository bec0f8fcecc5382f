// Drawing the conversation: one <li data-message-id data-seq data-role data-kind data-status>
// per message, with a .message-actions container other scripts extend (evolve.js, memory.js)
// on the "companion:message-rendered" event. User and model text only ever goes in with
// textContent: roleplay *actions* and **strong** words become <em>/<strong> elements
// (emphasised()), not markup parsed from the text.

import {button, el, safeUrl} from "../lib/dom.js";
import {editForm} from "../lib/editform.js";
import {slotOf} from "./store.js";

// Roleplay emphasis: *an action* → <em>, **a word** → <strong>. The delimiters must hug the
// text (no space just inside them) and an action does not start or end inside a word, so
// "2*3*4" and "* list" stay as typed. An asterisk without its partner stays a plain asterisk:
// a reply streaming "*smi" reads as typed until the closing "*" arrives. One line at most.
const EMPHASIS = /(?<!\*)\*\*(?![\s*])([^*\n]*?[^\s*])\*\*(?!\*)|(?<![*\p{L}\p{N}])\*(?![\s*])([^*\n]*?[^\s*])\*(?![*\p{L}\p{N}])/gu;

export function emphasised(text) {
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

function statusText(message) {
  if (message.status === "streaming") return "typing…";
  if (message.status === "interrupted") return "stopped";
  if (message.status === "failed") return "failed";
  if (message.extra && message.extra.edited) return "edited";
  return "";
}

// `actions`: {flip(message, members, step), regenerate(message), edit(message, text), remove(message), resend(text)}.
export function createView({boot, store, actions}) {
  const list = document.getElementById("messages");
  const typing = document.getElementById("typing");
  const stopButton = document.getElementById("stop-button");
  const errorBox = document.getElementById("chat-error");
  const statusLabel = document.getElementById("connection-status");
  const elements = new Map(); // id -> <li>

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollToEnd() {
    list.scrollTop = list.scrollHeight;
  }

  function authorOf(message) {
    if (message.role === "user") return boot.user_name || "You";
    if (message.role === "persona") return message.speaker || boot.persona_name; // a group scene: who wrote it
    return "";
  }

  function removeElement(id) {
    const node = elements.get(id);
    if (node) node.remove();
    elements.delete(id);
  }

  function insertSorted(node, message) {
    const p = Number(message.position || message.seq) || 0;
    const s = Number(message.seq) || 0;
    for (const child of list.children) {
      if (child.dataset.pending) break; // pending sends stay last
      const cp = Number(child.dataset.position);
      const cs = Number(child.dataset.seq);
      if (cp > p || (cp === p && cs > s)) {
        list.insertBefore(node, child);
        return;
      }
    }
    list.insertBefore(node, list.querySelector("[data-pending]"));
  }

  function renderBody(body, message) {
    const clipUrl = message.kind === "clip" && message.extra ? safeUrl(message.extra.clip_url || "") : null;
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
      dots.setAttribute("aria-label", `${authorOf(message)} is typing`);
      dots.append(el("i"), el("i"), el("i"));
      body.append(dots);
      return;
    }
    body.replaceChildren(...emphasised(message.content || ""));
  }

  const lastTextReply = (m) => m.role === "persona" && m.kind === "text" && !m.parent_id;

  // The slot whose first version is the latest persona text slot.
  function isLastSlot(root) {
    const first = store.messages.get(root);
    return first && store.isLast(first, lastTextReply);
  }

  function renderCoreActions(container, message, members) {
    container.replaceChildren();
    const busy = Boolean(store.streaming());
    if (message.role === "persona" && members && members.length > 1) {
      const index = members.findIndex((m) => m.id === message.id);
      const nav = el("span", "alt-nav");
      const prev = button("‹", "icon", () => actions.flip(message, members, -1), "Previous version");
      const next = button("›", "icon", () => actions.flip(message, members, +1), "Next version");
      prev.disabled = index <= 0 || busy;
      next.disabled = index >= members.length - 1 || busy;
      nav.append(prev, el("span", "alt-count", `${index + 1}/${members.length}`), next);
      container.append(nav);
    }
    if (message.role === "persona" && message.kind === "text" && message.status !== "streaming") {
      if (store.isLast(message, lastTextReply) || (message.parent_id && isLastSlot(message.parent_id))) {
        const regen = button("↻ Regenerate", "small secondary", () => actions.regenerate(message), "Write another version");
        regen.disabled = busy;
        container.append(regen);
      }
    }
    if (message.role === "user" && store.isLast(message, (m) => m.role === "user")) {
      const edit = button("Edit", "small secondary", () => startEdit(message), "Edit your last message");
      const del = button("Delete", "small danger", () => actions.remove(message), "Delete your last message");
      edit.disabled = del.disabled = busy;
      container.append(edit, del);
    }
  }

  function renderMessage(message, {hidden = false, members = null} = {}) {
    const stick = nearBottom();
    let node = elements.get(message.id);
    if (!node) {
      node = el("li", "message");
      const bubble = el("div", "bubble");
      const meta = el("div", "message-meta");
      meta.append(el("span", "author"), el("span", "status-label"));
      bubble.append(meta, el("div", "message-body"), el("div", "message-error"));
      const actionBox = el("div", "message-actions");
      actionBox.append(el("span", "core-actions"));
      node.append(bubble, actionBox);
      elements.set(message.id, node);
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
    node.hidden = hidden;

    node.querySelector(".author").textContent = authorOf(message);
    node.querySelector(".status-label").textContent = statusText(message);
    renderBody(node.querySelector(".message-body"), message);
    node.querySelector(".message-error").textContent =
      message.status === "failed" ? message.error_detail || "The reply failed." : "";
    renderCoreActions(node.querySelector(".core-actions"), message, members);

    if (!node.isConnected || positionChanged) insertSorted(node, message);
    if (stick) scrollToEnd();
    document.dispatchEvent(new CustomEvent("companion:message-rendered", {detail: {element: node, message}}));
    return node;
  }

  // Re-render every version of one reply slot (user messages are slots of one).
  function refreshSlot(root) {
    for (const m of store.deletedInSlot(root)) removeElement(m.id);
    const members = store.slotMembers(root);
    if (!members.length) return;
    const shown = store.shownInSlot(members, root);
    for (const m of members) renderMessage(m, {hidden: m.id !== shown.id, members});
  }

  // Buttons depend on what is last/streaming: refresh the actions of visible messages.
  function refreshChrome() {
    const live = store.streaming();
    typing.hidden = !live;
    // A group scene: the persona writing now, not the conversation's own.
    const typingName = typing.querySelector("span:not(.dots)");
    if (live && typingName) typingName.textContent = `${authorOf(live)} is typing…`;
    stopButton.hidden = !live;
    for (const [id, node] of elements) {
      const m = store.messages.get(id);
      if (!m || node.hidden) continue;
      const members = m.role === "persona" ? store.slotMembers(slotOf(m)) : null;
      renderCoreActions(node.querySelector(".core-actions"), m, members);
    }
  }

  // A reply's text grew (message.delta): only its body is redrawn.
  function refreshBody(message) {
    const node = elements.get(message.id);
    if (!node) return;
    const stick = nearBottom();
    renderBody(node.querySelector(".message-body"), message);
    if (stick) scrollToEnd();
  }

  function startEdit(message) {
    const node = elements.get(message.id);
    if (!node || node.querySelector(".edit-form")) return;
    const body = node.querySelector(".message-body");
    const {form, area} = editForm({
      text: message.content,
      label: "Edit your message",
      className: "edit-form",
      buttonClass: "small",
      onSave(text) {
        actions.edit(message, text);
        finish();
      },
      onCancel: () => finish(),
    });
    function finish() {
      form.remove();
      body.hidden = false;
      const edit = node.querySelector(".core-actions button");
      if (edit) edit.focus();
    }
    body.hidden = true;
    body.after(form);
    area.focus();
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

  // A send the server refused: the bubble says why and offers Retry / Discard.
  function failPending(item, detail) {
    item.element.dataset.status = "failed";
    item.element.querySelector(".status-label").textContent = "not sent";
    item.element.querySelector(".message-error").textContent = detail;
    item.element.querySelector(".message-actions").replaceChildren(
      button("Retry", "small secondary", () => {
        item.element.remove();
        actions.resend(item.text);
      }),
      button("Discard", "small secondary", () => item.element.remove()),
    );
  }

  function focusAltNav(id, step) {
    const node = elements.get(id);
    const again = node && node.querySelector(step < 0 ? ".alt-nav button:first-child" : ".alt-nav button:last-child");
    if (again && !again.disabled) again.focus();
  }

  return {
    elements,
    renderMessage,
    refreshSlot,
    refreshChrome,
    refreshBody,
    renderPending,
    failPending,
    focusAltNav,
    scrollToEnd,
    showError(detail, code) {
      errorBox.textContent = code ? `${detail} (${code})` : detail;
      errorBox.hidden = false;
    },
    clearError() {
      errorBox.hidden = true;
      errorBox.textContent = "";
    },
    setConnection(stateName, label) {
      statusLabel.dataset.state = stateName;
      statusLabel.textContent = label;
    },
  };
}
