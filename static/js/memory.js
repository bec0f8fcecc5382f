// Memory panel (templates/chat/_memory.html): lists what the persona remembers
// in three layers (Facts = semantic, Sessions = session summaries, Turns =
// every message of both speakers), each with its source turns (who, when,
// what), lets the user ask memory (recall across layers, ranked, with the layer
// and sources of each result), edit or forget each item, and shows the
// relationship stage and milestone timeline.
// API: the panel's data-*-url attributes (rendered with {% url %}): the conversation's memories
// (?layer=), relationship and recall (?q=), and one memory (its id in place of 0).
// In a group scene ("companion:scene-members" from scene.js) "Whose memory" picks the member whose
// memory is shown (?persona=): each remembers only what it witnessed.
// Text from the server is only ever inserted with textContent.
import {api} from "./lib/api.js";
import {button, el} from "./lib/dom.js";
import {editForm} from "./lib/editform.js";

const panel = document.getElementById("memory-panel");
const toggle = document.getElementById("memory-toggle");
if (panel && toggle) setup(panel, toggle);

function setup(panel, toggle) {
  // The toggle belongs in the chat header, next to the persona's name.
  const head = document.querySelector(".chat-head");
  if (head) {
    head.appendChild(toggle);
    toggle.classList.add("in-head");
  }
  const urls = {
    memories: panel.dataset.memoriesUrl,
    relationship: panel.dataset.relationshipUrl,
    recall: panel.dataset.recallUrl,
    memory: (id) => panel.dataset.memoryUrl.replace(/\/0\/$/, `/${Number(id)}/`),
  };
  const list = document.getElementById("memory-list");
  const empty = document.getElementById("memory-empty");
  const count = document.getElementById("memory-count");
  const stage = document.getElementById("memory-stage");
  const timeline = document.getElementById("memory-timeline");
  const errorBox = document.getElementById("memory-error");
  const results = document.getElementById("memory-results");
  const searchForm = document.getElementById("memory-search");
  const searchInput = document.getElementById("memory-query");
  const layerTabs = Array.from(panel.querySelectorAll(".memory-layer"));
  const LAYER_LABELS = {semantic: "fact", episodic: "turn", session: "session"};
  let layer = "semantic";
  let refreshTimers = [];
  let persona = ""; // a scene member's id; "" is the conversation's own persona
  const whose = document.getElementById("memory-whose");
  const whoseSelect = document.getElementById("memory-persona");
  const title = panel.querySelector(".memory-head h2");
  const scoped = (url) => (persona ? `${url}${url.includes("?") ? "&" : "?"}persona=${encodeURIComponent(persona)}` : url);
  document.addEventListener("companion:scene-members", (event) => {
    const members = Array.isArray(event.detail) ? event.detail : [];
    if (!whose || !whoseSelect) return;
    whose.hidden = members.length < 2;
    whoseSelect.replaceChildren(...members.map((m) => new Option(m.persona.name, m.primary ? "" : String(m.persona.id))));
    if (![...whoseSelect.options].some((o) => o.value === persona)) persona = "";
    whoseSelect.value = persona;
  });
  if (whoseSelect) {
    whoseSelect.addEventListener("change", () => {
      persona = whoseSelect.value;
      if (title) title.textContent = `What ${whoseSelect.selectedOptions[0].textContent} remembers`;
      results.replaceChildren();
      refresh();
    });
  }

  function day(iso) {
    return iso ? new Date(iso).toLocaleDateString() : "";
  }

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  function period(memory) {
    const start = day(memory.created_at);
    const end = memory.ended_at ? day(memory.ended_at) : "";
    return end && end !== start ? `${start} – ${end}` : start;
  }

  function renderSources(memory) {
    const sources = el("ul", "sources");
    for (const source of memory.sources || []) {
      const line = el("li", "source-item");
      const who = source.speaker || source.role;
      line.append(el("span", "source-meta", `${who} · ${day(source.created_at)}`),
        el("span", "source", `“${source.snippet}”`));
      sources.append(line);
    }
    return sources;
  }

  function renderMemory(memory, scored) {
    const item = el("li", "memory-item");
    item.dataset.memoryId = memory.id;
    item.dataset.layer = memory.layer || "semantic";
    const head = el("div");
    head.append(el("span", "layer", LAYER_LABELS[memory.layer] || memory.layer || "fact"),
      el("span", "kind", memory.kind), el("span", "text", memory.text));
    const note = scored && typeof scored.score === "number" ? ` · score ${scored.score.toFixed(2)}` : "";
    const meta = el("div", "muted", period(memory) + (memory.edited_by_user ? " · edited by you" : "") + note);
    const sources = renderSources(memory);
    const actions = el("div", "actions");
    actions.append(
      button("Edit", "secondary", () => startEdit(item, memory), `Edit memory: ${memory.text}`),
      button("Forget", "secondary", () => forget(item, memory), `Forget: ${memory.text}`),
    );
    item.append(head, meta, sources, actions);
    return item;
  }

  function startEdit(item, memory) {
    const {form, area} = editForm({
      text: memory.text,
      label: "Memory text",
      className: "memory-edit",
      async onSave(text) {
        try {
          const updated = await api(urls.memory(memory.id), {method: "PATCH", body: {text}});
          form.replaceWith(renderMemory(updated));
          showError("");
        } catch (err) {
          showError(err.message);
        }
      },
      onCancel: () => form.replaceWith(renderMemory(memory)),
    });
    item.replaceWith(form);
    area.focus();
  }

  async function forget(item, memory) {
    if (!window.confirm(`Forget “${memory.text}”?`)) return;
    try {
      await api(urls.memory(memory.id), {method: "DELETE"});
      item.remove();
      updateCount(list.children.length);
      showError("");
    } catch (err) {
      showError(err.message);
    }
  }

  // The relationship in words: the stage's name and place on the ladder, a sentence on how
  // things stand; the scores only on hover (title), never as the text itself.
  function relationshipWords(rel) {
    const name = (rel.persona && rel.persona.name) || "They";
    const ladder = rel.stages || [];
    const step = ladder.findIndex((s) => s.name === rel.stage);
    const a = Number(rel.affinity) || 0;
    const t = Number(rel.trust) || 0;
    const feeling = a < -0.2 ? `Things are strained between you and ${name}.`
      : a < 0.05 ? `${name} is still getting to know you.`
        : a < 0.3 ? `${name} enjoys your company.`
          : a < 0.55 ? `${name} is fond of you.`
            : `${name} feels very close to you.`;
    const trust = t < 0.05 ? "Trust has yet to grow." : t < 0.2 ? "Trust is starting to grow."
      : t < 0.45 ? "There is real trust between you." : "You trust each other deeply.";
    const n = Number(rel.exchanges) || 0;
    const since = rel.first_met_at ? ` since ${day(rel.first_met_at)}` : "";
    const talked = n === 0 ? "You have not really talked yet." : `You have talked ${n} time${n === 1 ? "" : "s"}${since}.`;
    const label = String(rel.stage_label || rel.stage || "");
    return {
      stage: label.charAt(0).toUpperCase() + label.slice(1),
      step: step >= 0 && ladder.length > 1 ? `stage ${step + 1} of ${ladder.length}` : "",
      sentence: `${feeling} ${trust} ${talked}`,
      numbers: `affinity ${a.toFixed(2)} · trust ${t.toFixed(2)} · ${n} exchanges`,
    };
  }

  function showRelationship(rel) {
    const words = relationshipWords(rel);
    stage.replaceChildren(document.createTextNode(words.stage));
    if (words.step) stage.append(el("span", "memory-step", ` · ${words.step}`));
    const summary = document.getElementById("memory-rel-summary");
    if (summary) {
      summary.textContent = words.sentence;
      summary.title = words.numbers;
    }
    stage.title = words.numbers;
  }

  function updateCount(n) {
    count.textContent = `(${n})`;
    empty.hidden = n > 0;
  }

  function selectLayer(name) {
    layer = name;
    for (const tab of layerTabs) tab.setAttribute("aria-selected", String(tab.dataset.layer === name));
    refresh();
  }

  async function recall(query) {
    if (!query.trim()) {
      results.replaceChildren();
      return;
    }
    try {
      const found = await api(scoped(`${urls.recall}?k=10&q=${encodeURIComponent(query)}`));
      results.replaceChildren(...found.results.map((r) => renderMemory(r.memory, r)));
      if (!found.results.length) results.append(el("li", "muted", "Nothing comes to mind."));
      showError("");
    } catch (err) {
      showError(err.message);
    }
  }

  async function refresh() {
    try {
      const [memories, relationship] = await Promise.all([
        api(scoped(`${urls.memories}?layer=${encodeURIComponent(layer)}`)),
        api(scoped(urls.relationship)),
      ]);
      list.replaceChildren(...memories.results.map((memory) => renderMemory(memory)));
      updateCount(memories.results.length);
      showRelationship(relationship);
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
  for (const tab of layerTabs) tab.addEventListener("click", () => selectLayer(tab.dataset.layer));
  if (searchForm && searchInput && results) {
    searchForm.addEventListener("submit", (event) => {
      event.preventDefault();
      recall(searchInput.value);
    });
  }
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
}
