// Memory panel (templates/chat/_memory.html): lists what the persona remembers
// about the user with source snippets, lets the user edit or forget each memory,
// and shows the relationship stage and milestone timeline.
// API: /api/memory/conversations/<id>/{memories,relationship}/, /api/memory/memories/<id>/.
// Text from the server is only ever inserted with textContent.
(() => {
  "use strict";

  const panel = document.getElementById("memory-panel");
  const toggle = document.getElementById("memory-toggle");
  if (!panel || !toggle) return;
  // The toggle belongs in the chat header, next to the persona's name.
  const head = document.querySelector(".chat-head");
  if (head) {
    head.appendChild(toggle);
    toggle.classList.add("in-head");
  }
  const conversationId = panel.dataset.conversationId;
  const base = "/api/memory";
  const list = document.getElementById("memory-list");
  const empty = document.getElementById("memory-empty");
  const count = document.getElementById("memory-count");
  const stage = document.getElementById("memory-stage");
  const timeline = document.getElementById("memory-timeline");
  const errorBox = document.getElementById("memory-error");
  const csrf = (panel.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  let refreshTimers = [];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(label, onClick, title) {
    const b = el("button", "secondary", label);
    b.type = "button";
    if (title) b.setAttribute("aria-label", title);
    b.addEventListener("click", onClick);
    return b;
  }

  function day(iso) {
    return iso ? new Date(iso).toLocaleDateString() : "";
  }

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  async function api(path, options = {}) {
    const headers = {"Accept": "application/json", ...(options.headers || {})};
    if (options.method && options.method !== "GET") {
      headers["X-CSRFToken"] = csrf;
      if (options.body) headers["Content-Type"] = "application/json";
    }
    const response = await fetch(base + path, {credentials: "same-origin", ...options, headers});
    if (!response.ok) throw new Error(`Request failed (${response.status})`);
    return response.status === 204 ? null : response.json();
  }

  function renderMemory(memory) {
    const item = el("li", "memory-item");
    item.dataset.memoryId = memory.id;
    const head = el("div");
    head.append(el("span", "kind", memory.kind), el("span", "text", memory.text));
    const meta = el("div", "muted", day(memory.created_at) + (memory.edited_by_user ? " · edited by you" : ""));
    const sources = el("ul", "sources");
    for (const source of memory.sources || []) {
      sources.append(el("li", "source", `“${source.snippet}”`));
    }
    const actions = el("div", "actions");
    actions.append(
      button("Edit", () => startEdit(item, memory), `Edit memory: ${memory.text}`),
      button("Forget", () => forget(item, memory), `Forget: ${memory.text}`),
    );
    item.append(head, meta, sources, actions);
    return item;
  }

  function startEdit(item, memory) {
    const form = el("form", "memory-edit");
    const area = el("textarea");
    area.value = memory.text;
    area.rows = 3;
    area.setAttribute("aria-label", "Memory text");
    const save = el("button", "", "Save");
    save.type = "submit";
    const cancel = button("Cancel", () => form.replaceWith(renderMemory(memory)));
    form.append(area, save, cancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const updated = await api(`/memories/${memory.id}/`, {method: "PATCH", body: JSON.stringify({text: area.value})});
        form.replaceWith(renderMemory(updated));
        showError("");
      } catch (err) {
        showError(err.message);
      }
    });
    item.replaceWith(form);
    area.focus();
  }

  async function forget(item, memory) {
    if (!window.confirm(`Forget “${memory.text}”?`)) return;
    try {
      await api(`/memories/${memory.id}/`, {method: "DELETE"});
      item.remove();
      updateCount(list.children.length);
      showError("");
    } catch (err) {
      showError(err.message);
    }
  }

  function updateCount(n) {
    count.textContent = `(${n})`;
    empty.hidden = n > 0;
  }

  async function refresh() {
    try {
      const [memories, relationship] = await Promise.all([
        api(`/conversations/${conversationId}/memories/`),
        api(`/conversations/${conversationId}/relationship/`),
      ]);
      list.replaceChildren(...memories.results.map(renderMemory));
      updateCount(memories.results.length);
      stage.textContent = `${relationship.stage_label} · affinity ${relationship.affinity.toFixed(2)} · trust ${relationship.trust.toFixed(2)}`;
      timeline.replaceChildren(...relationship.timeline.map((m) => el("li", `milestone ${m.kind}`, `${day(m.happened_at)} — ${m.title}`)));
      showError("");
    } catch (err) {
      showError(err.message);
    }
  }

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) refresh();
  }

  toggle.addEventListener("click", () => setOpen(panel.hidden));
  document.getElementById("memory-close").addEventListener("click", () => setOpen(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) setOpen(false);
  });
  // Extraction runs in a background task after each reply: look again shortly after.
  document.addEventListener("companion:frame", (event) => {
    if (panel.hidden || !event.detail || event.detail.type !== "message.done") return;
    refreshTimers.forEach(clearTimeout);
    refreshTimers = [1500, 5000].map((ms) => setTimeout(refresh, ms));
  });

  window.CompanionMemory = {refresh, open: () => setOpen(true), close: () => setOpen(false)};
})();
