// Evolve's forms on a clip (Remix, Continue) and the choice lists, built from the server's
// vocabulary (#evolve-vocabulary). They only build and read the form: evolve.js sends the frames.

import {el} from "../lib/dom.js";

export function label(value) {
  return String(value).replace(/_/g, " ");
}
export function select(name, values, withDefault) {
  const node = el("select");
  node.name = name;
  if (withDefault) node.append(new Option("(as extracted)", ""));
  for (const v of values) node.append(new Option(label(v), v));
  return node;
}
export function continueControls(onSubmit) {
  const details = el("details", "remix continue");
  details.append(el("summary", null, "Continue"));
  const form = el("form", "continue-form");
  const text = el("input");
  text.type = "text";
  text.name = "text";
  text.maxLength = 500;
  text.placeholder = "What happens next? (empty: the next message)";
  const textLabel = el("label", null, "Next ");
  textLabel.append(text);
  const go = el("button", "small", "Render next shot");
  go.type = "submit";
  form.append(textLabel, go);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit(text.value.trim());
    details.open = false;
  });
  details.append(form);
  return details;
}

export function remixControls(extra, vocabulary, onSubmit) {
  const details = el("details", "remix");
  details.append(el("summary", null, "Remix"));
  const remix = el("form", "remix-form");
  const beat = extra.beat || {};
  const controls = [
    ["Camera", select("camera", vocabulary.camera, true)],
    ["Framing", select("framing", vocabulary.framing, true)],
    ["Lighting", select("lighting", vocabulary.lighting, true)],
  ];
  for (const [title, control] of controls) {
    const wrap = el("label", null, `${title} `);
    wrap.append(control);
    remix.append(wrap);
  }
  const duration = el("input");
  duration.type = "number";
  duration.name = "duration_s";
  duration.min = String(vocabulary.duration_s.min);
  duration.max = String(vocabulary.duration_s.max);
  duration.step = String(vocabulary.duration_s.step);
  duration.placeholder = String(beat.duration_s || "");
  const durationLabel = el("label", null, "Seconds ");
  durationLabel.append(duration);
  const notes = el("input");
  notes.type = "text";
  notes.name = "notes";
  notes.maxLength = 500;
  notes.placeholder = "e.g. slow motion, light snow";
  const notesLabel = el("label", null, "Notes ");
  notesLabel.append(notes);
  const go = el("button", "small", "Render remix");
  go.type = "submit";
  remix.append(durationLabel, notesLabel, go);
  remix.addEventListener("submit", (event) => {
    event.preventDefault();
    const direction = {};
    for (const name of ["camera", "framing", "lighting"]) {
      if (remix.elements[name].value) direction[name] = remix.elements[name].value;
    }
    if (duration.value) direction.duration_s = Number(duration.value);
    if (notes.value.trim()) direction.notes = notes.value.trim();
    onSubmit(direction);
    details.open = false;
  });
  details.append(remix);
  return details;
}
