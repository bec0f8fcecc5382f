// Group scenes on the chat page (templates/chat/_scene.html; server side: companion/chat/scene.py):
// - the personas in the scene, each with Mute (an hour) / Unmute and Remove (the conversation's own
//   persona stays), and an "Add a persona" list of the personas you can chat with;
// - the turn order (natural, in turn, manual), saved at once;
// - "Who answers": a member picked here goes with the next messages as message.send's persona_id
//   (chat.setAnswerer); "The scene decides" leaves it to the turn order.
// Each persona reply is labelled with its speaker by chat/view.js (message.speaker).
import {chat} from "./chat.js";
import {api} from "./lib/api.js";
import {button, el} from "./lib/dom.js";

const MUTE_MINUTES = 60;
const panel = document.getElementById("scene-panel");
if (panel && chat) setup(panel);

function setup(panel) {
  const list = document.getElementById("scene-members");
  const addForm = document.getElementById("scene-add");
  const addSelect = document.getElementById("scene-add-persona");
  const order = document.getElementById("scene-turn-order");
  const answerer = document.getElementById("scene-answerer");
  const answererLabel = document.getElementById("scene-answerer-label");
  const errorBox = document.getElementById("scene-error");
  const chatSection = document.getElementById("chat");
  const membersUrl = panel.dataset.membersUrl;
  let members = [];
  let personas = [];

  function fail(error) {
    if (!errorBox) return;
    errorBox.textContent = error.detail || `The scene could not be changed (${error.status || "network error"}).`;
    errorBox.hidden = false;
  }

  const memberUrl = (personaId) => `${membersUrl}${Number(personaId)}/`;

  // Every members call answers the whole list: draw it again.
  async function change(request) {
    if (errorBox) errorBox.hidden = true;
    try {
      members = await request();
      draw();
    } catch (error) {
      fail(error);
    }
  }

  function row(member) {
    const name = member.persona.name;
    const item = el("li", "scene-member");
    item.dataset.personaId = member.persona.id;
    item.dataset.muted = String(Boolean(member.muted));
    item.append(el("span", "scene-name", name));
    if (member.primary) item.append(el("span", "muted", "(this conversation's persona)"));
    if (member.muted) {
      const until = member.muted_until ? new Date(member.muted_until).toLocaleTimeString([], {timeStyle: "short"}) : "";
      item.append(el("span", "muted", until ? `muted until ${until}` : "muted"));
      item.append(button("Unmute", "small secondary", () => change(() => api(memberUrl(member.persona.id),
        {method: "PATCH", body: {mute_minutes: 0}})), `Unmute ${name}`));
    } else {
      item.append(button("Mute", "small secondary", () => change(() => api(memberUrl(member.persona.id),
        {method: "PATCH", body: {mute_minutes: MUTE_MINUTES}})), `Mute ${name} for an hour`));
    }
    if (!member.primary) {
      item.append(button("Remove", "small secondary", () => change(() => api(memberUrl(member.persona.id),
        {method: "DELETE"})), `Remove ${name} from the scene`));
    }
    return item;
  }

  function draw() {
    list.replaceChildren(...members.map(row));
    const inScene = new Set(members.map((m) => m.persona.id));
    const addable = personas.filter((p) => !inScene.has(p.id));
    addSelect.replaceChildren(...addable.map((p) => new Option(p.name, p.slug || p.id)));
    addForm.hidden = !addable.length || members.length >= 5;
    const chosen = answerer.value;
    const present = members.filter((m) => !m.muted);
    answerer.replaceChildren(new Option("The scene decides", ""),
      ...present.map((m) => new Option(m.persona.name, String(m.persona.id))));
    answerer.value = present.some((m) => String(m.persona.id) === chosen) ? chosen : "";
    answererLabel.hidden = members.length < 2;
    chat.setAnswerer(answerer.value ? Number(answerer.value) : null);
    if (chatSection) chatSection.dataset.group = String(members.length > 1);
    document.dispatchEvent(new CustomEvent("companion:scene-members", {detail: members})); // memory.js
  }

  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (addSelect.value) change(() => api(membersUrl, {method: "POST", body: {persona: addSelect.value}}));
  });
  order.value = panel.dataset.turnOrder || "natural";
  order.addEventListener("change", async () => {
    if (errorBox) errorBox.hidden = true;
    try {
      await api(panel.dataset.turnOrderUrl, {method: "POST", body: {turn_order: order.value}});
    } catch (error) {
      fail(error);
    }
  });
  answerer.addEventListener("change", () => chat.setAnswerer(answerer.value ? Number(answerer.value) : null));

  Promise.all([api(membersUrl), api(panel.dataset.personasUrl)])
    .then(([found, visible]) => {
      members = found;
      personas = Array.isArray(visible) ? visible : (visible && visible.results) || [];
      draw();
    })
    .catch(fail);
}
