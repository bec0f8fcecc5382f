// Evolve: turn a persona message into a short clip, right in the chat.
//
// Extends chat.js through its public hooks only (the `chat` it exports, the
// "companion:frame" and "companion:message-rendered" events):
// - an Evolve button on finished persona text messages opens the refine dialog:
//   render.preview -> render.beat fills the editable beat, Render sends
//   render.request {message_id, beat, client_id};
// - render.queued / render.progress show a progress bar (with Cancel -> render.cancel)
//   under the source message; render.done / failed / cancelled clear it; a render.progress that
//   carries a live preview (a small JPEG data URL, rendering/previews.py) shows it in the bar;
// - a finished clip gets Continue: render.continue {job_id, text?} renders the next beat from its
//   last frame (empty text: the persona's next message); the new bar comes with render.queued;
// - clip messages get a poster, the AI-generated label, Remix controls
//   (render.request with a direction), Download, and a checkbox for "Make reel"
//   (POST /api/evolve/reels/);
// - renders still running survive a reload: the page carries the user's queued/running jobs
//   of this conversation (#evolve-active-jobs, json_script) and their bars come back at once;
//   after every (re)connect, once history.sync is answered, GET <jobs URL>?active=1
//   reconciles: bars of jobs that finished while away go (their clip or notice came with
//   the history), bars of jobs still running are restored, and live render.progress continues.
// All text from the server goes in with textContent; URLs are checked to be http(s).
// The choices and bounds come from the server (#evolve-vocabulary, read from the SceneBeat
// contract by companion.evolve.selectors.scene_vocabulary), the API URLs from the dialog's
// data-*-url attributes ({% url %}).
import {chat} from "./chat.js";
import {api} from "./lib/api.js";
import {el, readJson, safeUrl} from "./lib/dom.js";
import {newClientId as clientId} from "./lib/ids.js";
import {toast} from "./lib/toast.js";
import {continueControls, label, remixControls} from "./evolve/controls.js";
import {clearProgress as undrawProgress, showProgress as drawProgress} from "./evolve/progress.js";

const vocabulary = readJson("evolve-vocabulary");
const evolveDialog = document.getElementById("evolve-dialog");
// A module that imports chat.js runs after it: the chat's messages are already drawn.
if (chat && evolveDialog && vocabulary) init(chat, evolveDialog, vocabulary);

function init(C, dialog, vocabulary) {
  const reelBar = document.getElementById("reel-bar");
  const urls = {jobs: dialog.dataset.jobsUrl, reels: dialog.dataset.reelsUrl};

  const jobs = new Map(); // job id -> {messageId, status}
  const finished = new Set(); // job ids seen done/failed/cancelled: a stale snapshot never revives them
  const selected = new Set(); // clip job ids chosen for a reel, in click order
  let dialogMessageId = null;

  function messageNode(messageId) {
    return document.querySelector(`[data-message-id="${Number(messageId)}"]`);
  }
  function actionsOf(node) {
    let box = node.querySelector(".evolve-actions");
    if (!box) {
      box = el("span", "evolve-actions");
      (node.querySelector(".message-actions") || node).append(box);
    }
    return box;
  }

  // --- persona text messages: the Evolve button ----------------------------------

  function decorateText(node, message) {
    const box = actionsOf(node);
    const ready = message.status === "complete" && !message.deleted && (message.content || "").trim();
    if (!ready) {
      box.replaceChildren();
      return;
    }
    if (box.querySelector(".evolve-button")) return;
    const button = el("button", "small secondary evolve-button", "✦ Evolve");
    button.type = "button";
    button.title = "Turn this moment into a short clip";
    button.addEventListener("click", () => openRefine(message.id));
    box.append(button);
  }

  // --- the refine dialog -------------------------------------------------------------

  const form = dialog.querySelector("form");
  const fields = {
    setting: form.elements.setting,
    action: form.elements.action,
    camera: form.elements.camera,
    framing: form.elements.framing,
    lighting: form.elements.lighting,
    mood: form.elements.mood,
    duration_s: form.elements.duration_s,
  };
  const dialogStatus = dialog.querySelector(".evolve-dialog-status");
  for (const name of ["camera", "framing", "lighting"]) {
    if (!fields[name].options.length) for (const v of vocabulary[name]) fields[name].append(new Option(label(v), v));
  }

  function openRefine(messageId) {
    dialogMessageId = messageId;
    form.reset();
    form.querySelector("fieldset").disabled = true;
    dialogStatus.textContent = "Reading the scene…";
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
    C.send({type: "render.preview", message_id: messageId});
  }

  function fillRefine(frame) {
    if (Number(frame.message_id) !== Number(dialogMessageId) || !frame.beat) return;
    const beat = frame.beat;
    for (const name of Object.keys(fields)) {
      if (beat[name] !== undefined && beat[name] !== null) fields[name].value = beat[name];
    }
    form.querySelector("fieldset").disabled = false;
    // A group scene: whose look (LoRA) the renderer applies when several personas are in the shot.
    dialogStatus.textContent = [frame.cast_note, "Edit anything you like, then render."].filter(Boolean).join(" ");
    fields.action.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (event.submitter && event.submitter.value === "cancel") {
      dialog.close();
      return;
    }
    if (!form.reportValidity() || dialogMessageId === null) return;
    const beat = {};
    for (const [name, input] of Object.entries(fields)) beat[name] = input.value;
    beat.duration_s = Number(beat.duration_s);
    const sent = C.send({type: "render.request", message_id: dialogMessageId, beat, client_id: clientId()});
    if (sent !== false) showProgress(dialogMessageId, null, {phase: "queued", step: 0, total: 0});
    dialog.close();
  });

  // --- progress under the source message --------------------------------------------------

  // --- progress under the source message (evolve/progress.js) ------------------------------

  function showProgress(messageId, jobId, info) {
    drawProgress(messageNode(messageId), jobId, info, (id) => C.send({type: "render.cancel", job_id: id}));
  }

  function clearProgress(messageId, note) {
    undrawProgress(messageNode(messageId), note);
  }

  // --- jobs that outlive the page or the socket ------------------------------------------

  function jobFromPayload(job) {
    if (!job || !job.id || job.message_id === null || job.message_id === undefined) return;
    if (finished.has(job.id) || !["queued", "running"].includes(job.status)) return;
    const node = messageNode(job.message_id);
    const box = node && node.querySelector(".render-progress");
    // A live frame may already have moved this bar further than the snapshot says.
    if (box && box.dataset.jobId === job.id && Number(box.dataset.step || 0) > (job.progress_step || 0)) return;
    jobs.set(job.id, {messageId: job.message_id, status: job.status});
    showProgress(job.message_id, job.id, {
      phase: job.phase || job.status,
      step: job.progress_step || 0,
      total: job.progress_total || 0,
    });
  }

  function restoreFromPage() {
    const node = document.getElementById("evolve-active-jobs");
    if (!node) return;
    let list;
    try {
      list = JSON.parse(node.textContent);
    } catch (_) {
      return;
    }
    if (Array.isArray(list)) list.forEach(jobFromPayload);
  }

  let reconciling = null;
  async function reconcile() {
    if (reconciling) return reconciling;
    const known = new Set(jobs.keys()); // only bars known before asking may be dropped
    reconciling = (async () => {
      try {
        const data = await api(`${urls.jobs}?conversation=${encodeURIComponent(C.conversationId)}&active=1`);
        const active = new Set();
        for (const job of data.jobs || []) {
          active.add(job.id);
          jobFromPayload(job);
        }
        for (const [jobId, info] of [...jobs]) {
          if (!known.has(jobId) || active.has(jobId)) continue;
          // Finished while we were away: its clip (or the failure notice) came with the history.
          jobs.delete(jobId);
          finished.add(jobId);
          const node = messageNode(info.messageId);
          const box = node && node.querySelector(".render-progress");
          if (box && box.dataset.jobId === jobId) box.remove();
        }
      } catch (_) {
        // Offline again, or refused: the next reconnect asks again.
      } finally {
        reconciling = null;
      }
    })();
    return reconciling;
  }

  // --- clip messages: poster, label, remix, download, reel selection -------------------

  function decorateClip(node, message) {
    const extra = message.extra || {};
    const video = node.querySelector("video");
    const poster = safeUrl(extra.poster_url);
    if (video && poster && video.getAttribute("poster") !== poster) video.poster = poster;
    const body = node.querySelector(".message-body") || node;
    if (!body.querySelector(".ai-label")) {
      const lab = extra.label || {};
      const text = lab.self_signed
        ? "AI-generated · self-signed label"
        : "AI-generated · signed C2PA label";
      const badge = el("p", "ai-label", text);
      badge.title = "This clip carries a C2PA manifest saying it was made by a generative model.";
      body.append(badge);
    }
    const box = actionsOf(node);
    if (box.dataset.decorated === String(message.id)) return;
    box.dataset.decorated = String(message.id);
    box.replaceChildren();

    const download = safeUrl(extra.download_url);
    if (download) {
      const link = el("a", "button small secondary", "Download");
      link.href = download;
      link.setAttribute("download", "");
      box.append(link);
    }
    if (extra.job_id) {
      const pick = el("label", "reel-pick");
      const check = el("input");
      check.type = "checkbox";
      check.checked = selected.has(extra.job_id);
      check.addEventListener("change", () => {
        if (check.checked) selected.add(extra.job_id);
        else selected.delete(extra.job_id);
        updateReelBar();
      });
      pick.append(check, document.createTextNode(" for reel"));
      box.append(pick);
    }
    if (extra.source_message_id && extra.job_kind !== "reel") {
      box.append(remixControls(extra, vocabulary, (direction) => {
        const messageId = extra.source_message_id;
        const sent = C.send({type: "render.request", message_id: messageId, direction, client_id: clientId()});
        if (sent !== false) showProgress(messageId, null, {phase: "queued", step: 0, total: 0});
      }));
    }
    if (extra.job_id && extra.job_kind !== "reel") {
      // The bar appears with render.queued, under whichever message the next shot belongs to.
      box.append(continueControls((text) => {
        C.send({type: "render.continue", job_id: extra.job_id, text, client_id: clientId()});
      }));
    }
  }

  // --- reel ------------------------------------------------------------------------

  function updateReelBar() {
    if (!reelBar) return;
    reelBar.hidden = selected.size === 0;
    reelBar.querySelector(".reel-count").textContent = `${selected.size} clip${selected.size === 1 ? "" : "s"} selected`;
    reelBar.querySelector(".reel-make").disabled = selected.size < 2;
  }

  async function makeReel() {
    const status = reelBar.querySelector(".reel-status");
    status.textContent = "Queuing the reel…";
    try {
      await api(urls.reels, {
        method: "POST",
        body: {conversation_id: C.conversationId, job_ids: [...selected], client_id: clientId()},
      });
    } catch (err) {
      status.textContent = err.status ? err.detail || "The reel could not be queued." : "Network error: the reel was not queued.";
      return;
    }
    // The sheet closes once the reel is queued; a toast says what happens next.
    status.textContent = "";
    selected.clear();
    document.querySelectorAll(".reel-pick input").forEach((c) => { c.checked = false; });
    updateReelBar();
    toast("Reel queued: it will appear in the chat when ready.");
  }
  if (reelBar) {
    reelBar.querySelector(".reel-make").addEventListener("click", makeReel);
    reelBar.querySelector(".reel-clear").addEventListener("click", () => {
      selected.clear();
      document.querySelectorAll(".reel-pick input").forEach((c) => { c.checked = false; });
      updateReelBar();
    });
  }

  // --- wiring --------------------------------------------------------------------------

  document.addEventListener("companion:message-rendered", (event) => {
    const {element, message} = event.detail || {};
    if (!element || !message) return;
    if (message.role === "persona" && message.kind === "text") decorateText(element, message);
    else if (message.kind === "clip") decorateClip(element, message);
  });

  document.addEventListener("companion:frame", (event) => {
    const frame = event.detail || {};
    switch (frame.type) {
      case "render.beat":
        fillRefine(frame);
        break;
      case "render.queued":
      case "render.progress": {
        const job = frame.job || {};
        const status = frame.status || job.status;
        if (["succeeded", "failed", "cancelled"].includes(status) || finished.has(frame.job_id)) break;
        jobs.set(frame.job_id, {messageId: frame.message_id, status});
        showProgress(frame.message_id, frame.job_id, {
          phase: frame.phase || job.phase || "queued",
          step: frame.step || 0,
          total: frame.total || 0,
          preview: frame.preview,
        });
        break;
      }
      case "history":
        if (!frame.more) reconcile();
        break;
      case "render.done":
        finished.add(frame.job_id);
        jobs.delete(frame.job_id);
        clearProgress(frame.message_id);
        break;
      case "render.failed":
        finished.add(frame.job_id);
        jobs.delete(frame.job_id);
        clearProgress(frame.message_id, "Render failed.");
        break;
      case "render.cancelled":
        finished.add(frame.job_id);
        jobs.delete(frame.job_id);
        clearProgress(frame.message_id, "Cancelled.");
        break;
      case "error":
        if (dialog.open && ["not_found", "invalid", "refused", "invalid_frame"].includes(frame.code)) {
          dialogStatus.textContent = frame.detail || frame.code;
        }
        // A refused or invalid request leaves a placeholder bar without a job: drop it.
        document.querySelectorAll(".render-progress:not([data-job-id])").forEach((n) => n.remove());
        break;
      default:
        break;
    }
  });

  // Messages rendered before this module ran (chat.js draws the page's history first).
  for (const message of C.messages.values()) {
    const node = messageNode(message.id);
    if (!node) continue;
    if (message.role === "persona" && message.kind === "text") decorateText(node, message);
    else if (message.kind === "clip") decorateClip(node, message);
  }
  restoreFromPage();
  updateReelBar();
}
