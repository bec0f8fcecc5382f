// Branches on the chat page (templates/chat/_branches.html); chat.js is not edited, this listens to it:
// - every finished message gets a "Branch" action ("companion:message-rendered"): it asks the API for a
//   new conversation with the history up to that message and opens it;
// - the composer's draft is kept per conversation (localStorage "companion:draft:<id>"), so going from
//   one branch to another and back finds each one's unsent text again.
// A module that does not import chat.js, so it runs before it (document order) and hears the
// "companion:message-rendered" events of the page's history too.
import {api} from "./lib/api.js";
import {button, el} from "./lib/dom.js";

const branchTree = document.getElementById("branch-tree");
const chatSection = document.getElementById("chat");
if (branchTree && chatSection) setup(branchTree, chatSection);

function setup(tree, chat) {
  const conversationId = chat.dataset.conversationId;
  const errorBox = document.getElementById("branch-error");

  // --- "Branch from here" ----------------------------------------------------------------------

  let busy = false;
  async function branchFrom(message) {
    if (busy) return;
    busy = true;
    if (errorBox) errorBox.hidden = true;
    try {
      const data = await api(tree.dataset.branchUrl, {method: "POST", body: {message_id: message.id}});
      window.location.assign(tree.dataset.chatUrl.replace(/\/0\/$/, `/${Number(data.id)}/`));
    } catch (error) {
      busy = false;
      if (errorBox) {
        errorBox.textContent = error.detail || `The branch could not be made (${error.status || "network error"}).`;
        errorBox.hidden = false;
      }
    }
  }

  document.addEventListener("companion:message-rendered", (event) => {
    const {element, message} = event.detail || {};
    if (!element || !message) return;
    const actions = element.querySelector(".message-actions");
    let box = element.querySelector(".branch-actions");
    const branchable = actions && !message.deleted && message.status !== "streaming" && message.id > 0;
    if (!branchable) {
      if (box) box.remove();
      return;
    }
    if (box) return;
    box = el("span", "branch-actions");
    const branch = button("Branch", "small secondary", () => branchFrom(message), "Branch from here");
    branch.title = "Branch from here: a new conversation with everything up to this message";
    box.append(branch);
    actions.append(box);
  });

  // --- a draft per conversation ------------------------------------------------------------------

  const composer = document.getElementById("composer");
  const text = document.getElementById("composer-text");
  if (!composer || !text || !conversationId) return;
  const key = `companion:draft:${conversationId}`;
  function save() {
    try {
      if (text.value.trim()) window.localStorage.setItem(key, text.value);
      else window.localStorage.removeItem(key);
    } catch (_) {
      // Storage full or blocked (private mode): drafts are a convenience.
    }
  }
  try {
    const draft = window.localStorage.getItem(key);
    if (draft && !text.value) {
      text.value = draft;
      text.dispatchEvent(new Event("input", {bubbles: true})); // chat.js sizes the box on input
    }
  } catch (_) {
    // as above
  }
  text.addEventListener("input", save);
  // chat.js empties the box once the message is on its way: keep what is left then (nothing).
  composer.addEventListener("submit", () => setTimeout(save, 0));
  window.addEventListener("pagehide", save);
}
