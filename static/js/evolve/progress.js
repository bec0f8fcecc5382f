// Evolve's progress bar under a message: phase, step/total, Cancel, and the live preview.

import {button, el} from "../lib/dom.js";
import {label} from "./controls.js";

const PHASES = {starting: "Starting", rendering: "Rendering", denoising: "Rendering", encoding: "Encoding",
  labelling: "Labelling", assembling: "Assembling", retrying: "Retrying", queued: "Queued"};

function showPreview(box, preview) {
  // Only an inline JPEG from the server: never a URL from the frame into an <img>.
  const image = preview && typeof preview.image === "string" ? preview.image : "";
  if (!image.startsWith("data:image/jpeg;base64,")) return;
  let img = box.querySelector("img.render-preview");
  if (!img) {
    img = el("img", "render-preview");
    img.alt = "The scene forming (preview)";
    box.prepend(img);
  }
  if (preview.width && preview.height) {
    img.width = preview.width;
    img.height = preview.height;
  }
  img.src = image;
}

export function showProgress(node, jobId, {phase, step, total, preview}, onCancel) {
  if (!node) return;
  let box = node.querySelector(".render-progress");
  if (!box) {
    box = el("div", "render-progress");
    box.setAttribute("role", "status");
    const bar = el("progress");
    bar.max = 1;
    const text = el("span", "render-phase");
    const cancel = button("Cancel", "small secondary render-cancel", () => {
      if (box.dataset.jobId) onCancel(box.dataset.jobId);
      cancel.disabled = true;
    });
    box.append(bar, text, cancel);
    node.append(box);
  }
  if (jobId) box.dataset.jobId = jobId;
  box.dataset.step = String(total > 0 ? step : 0);
  const bar = box.querySelector("progress");
  if (total > 0) {
    bar.max = total;
    bar.value = Math.min(step, total);
  } else {
    bar.removeAttribute("value"); // indeterminate while queued
  }
  const name = PHASES[phase] || label(phase || "working");
  box.querySelector(".render-phase").textContent = total > 0 ? `${name} ${step}/${total}` : `${name}…`;
  box.querySelector(".render-cancel").disabled = !box.dataset.jobId;
  showPreview(box, preview);
}

export function clearProgress(node, note) {
  const box = node && node.querySelector(".render-progress");
  if (!box) return;
  if (!note) {
    box.remove();
    return;
  }
  box.replaceChildren(el("span", "render-phase", note));
  setTimeout(() => box.remove(), 4000);
}
