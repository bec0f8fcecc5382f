// The inline edit form (a chat message, a memory): a textarea with Save and Cancel.
// Enter saves (Shift+Enter starts a new line), Escape cancels. onSave gets the text (never
// empty or only spaces); it may be async.

import {button, el} from "./dom.js";

export function editForm({text, label, className, buttonClass = "", onSave, onCancel}) {
  const form = el("form", className);
  const area = el("textarea");
  area.value = text || "";
  area.rows = 3;
  area.setAttribute("aria-label", label);
  const save = el("button", buttonClass, "Save");
  save.type = "submit";
  const cancel = button("Cancel", `${buttonClass} secondary`.trim(), () => onCancel());
  form.append(area, save, cancel);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (area.value.trim()) onSave(area.value);
  });
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      onCancel();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  return {form, area};
}
