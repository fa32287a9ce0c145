// Farm: one card per printer, updated in place from the event stream.

import { imageUrl, post, session } from "./api.js";
import { act, h, minutes, notice, replace, temp, words } from "./dom.js";
import { store } from "./store.js";

const CAMERA_EVERY_MS = 10000;

export function mount(root) {
  const grid = h("div", { class: "grid", id: "printers" });
  const empty = h("p", { class: "hint", text: "No printers yet. Add one through the API (POST /printers)." });
  replace(root, h("h2", { text: "Farm" }), grid);
  const cards = new Map();

  function render() {
    const ids = [...store.printers.keys()];
    for (const [id, card] of cards) {
      if (!store.printers.has(id)) {
        card.el.remove();
        cards.delete(id);
      }
    }
    for (const id of ids) {
      if (!cards.has(id)) {
        const card = printerCard(id);
        cards.set(id, card);
        grid.append(card.el);
      }
      cards.get(id).update();
    }
    if (!ids.length) grid.append(empty);
    else empty.remove();
    if (window.__apfFirstScreenMs === undefined && ids.length) {
      window.__apfFirstScreenMs = performance.now();
    }
  }

  const off = store.subscribe((change) => {
    if (change.kind === "printer" && cards.has(change.id)) cards.get(change.id).update();
    else if (change.kind === "printers" || change.kind === "printer") render();
    else if (change.kind === "jobs") for (const card of cards.values()) card.update();
  });
  render();
  return {
    unmount() {
      off();
      for (const card of cards.values()) card.dispose();
    },
  };
}

function printerCard(id) {
  const note = notice();
  const title = h("h3", {});
  const badge = h("span", { class: "badge" });
  const model = h("p", { class: "sub" });
  const job = h("p", { class: "job" });
  const bar = h("progress", { max: 100, value: 0 });
  const progressText = h("span", { class: "num" });
  const remaining = h("span", {});
  const temps = h("dl", { class: "temps" });
  const attention = h("div", { class: "attention", role: "status" });
  const camera = h("figure", { class: "camera", hidden: true });
  const actions = h("div", { class: "actions" });
  const el = h(
    "article",
    { class: "card printer", "data-printer": id, "aria-labelledby": `p-${id}` },
    h("header", {}, title, badge),
    model,
    job,
    h("div", { class: "progress" }, bar, progressText, remaining),
    temps,
    attention,
    camera,
    actions,
    note.el,
  );
  title.id = `p-${id}`;
  bar.setAttribute("aria-labelledby", `p-${id}`);
  let actionKey = null;
  let cameraTimer = null;
  let cameraUrl = null;

  function update() {
    const entry = store.printers.get(id);
    if (!entry) return;
    const { info, status } = entry;
    const s = status || {};
    const state = stateOf(info, s);
    title.textContent = info.name;
    badge.textContent = words(state);
    badge.dataset.state = state;
    el.dataset.state = state;
    model.textContent = [info.manufacturer, info.model, info.location].filter(Boolean).join(" · ");
    const current = s.current_job_id ? store.jobs.get(s.current_job_id) : null;
    job.textContent = current ? `Job: ${current.file_name || current.id}` : s.current_job_id ? "Job running" : "No job";
    const progress = typeof s.progress === "number" ? s.progress : null;
    bar.value = progress ?? 0;
    bar.hidden = progress === null;
    progressText.textContent = progress === null ? "" : `${progress.toFixed(0)} %`;
    const left = s.remaining_time_minutes ?? null;
    remaining.textContent = progress === null ? "" : [
      left !== null ? `${minutes(left)} left` : null,
      s.total_layers ? `layer ${s.layer_num ?? 0}/${s.total_layers}` : null,
    ].filter(Boolean).join(" · ");
    renderTemps(s);
    renderAttention(s, entry.error);
    renderActions(state, s);
    renderCamera(s);
  }

  function renderTemps(s) {
    const rows = [["Nozzle", s.nozzle_temp, s.target_nozzle_temp], ["Bed", s.bed_temp, s.target_bed_temp]];
    if (s.chamber_temp !== null && s.chamber_temp !== undefined) {
      rows.push(["Chamber", s.chamber_temp, s.target_chamber_temp]);
    }
    replace(temps, rows.map(([label, c, t]) => [h("dt", { text: label }), h("dd", { text: temp(c, t) })]));
  }

  function renderAttention(s, error) {
    const lines = [];
    if (error) lines.push(["error", `Status unavailable: ${error.message}`]);
    if (s.hub_online === false) lines.push(["error", s.offline_reason || "The printer cannot be reached"]);
    if (s.error) lines.push(["error", typeof s.error === "string" ? s.error : s.error.message || JSON.stringify(s.error)]);
    for (const m of s.messages || []) lines.push([["fatal", "serious"].includes(m.severity) ? "error" : "warn", m.text || m.code]);
    if (s.bed_clear_required) lines.push(["warn", "The print is done: clear the bed, then confirm below."]);
    replace(attention, lines.map(([kind, text]) => h("p", { class: kind, text })));
  }

  function renderActions(state, s) {
    const caps = new Set(s.capabilities || []);
    const key = [state, s.bed_clear_required, s.light_on, session.can("control"), [...caps].join()].join("|");
    if (key === actionKey) return;
    actionKey = key;
    const buttons = [];
    if (session.can("control")) {
      const control = (label, body, cls = "") =>
        button(label, cls, (b) => act(b, note, () => post(`/printers/${id}/control`, body)), "control");
      if (s.bed_clear_required) {
        buttons.push(control("Bed clear: print good", { action: "clear_bed", result: "success" }, "primary"));
        buttons.push(control("Print failed: re-queue", { action: "clear_bed", result: "failed" }));
      }
      if (state === "printing") buttons.push(control("Pause", { action: "pause" }));
      if (state === "paused") buttons.push(control("Resume", { action: "resume" }, "primary"));
      if (state === "printing" || state === "paused") buttons.push(confirmButton("Stop", () => post(`/printers/${id}/control`, { action: "stop" })));
      if (caps.has("light")) {
        buttons.push(button(s.light_on ? "Light off" : "Light on", "", (b) =>
          act(b, note, () => post(`/printers/${id}/light`, { state: !s.light_on })), "control"));
      }
    }
    replace(actions, buttons);
  }

  function confirmButton(label, fn) {
    let armed = null;
    return button(label, "danger", (b) => {
      if (!armed) {
        b.textContent = `Confirm ${label.toLowerCase()}`;
        armed = setTimeout(() => {
          armed = null;
          b.textContent = label;
        }, 5000);
        return undefined;
      }
      clearTimeout(armed);
      armed = null;
      b.textContent = label;
      return act(b, note, fn);
    }, "control");
  }

  function renderCamera(s) {
    const capable = (s.capabilities || []).includes("camera");
    camera.hidden = !capable;
    if (!capable || cameraTimer !== null) return;
    const img = h("img", { alt: `Camera snapshot of ${title.textContent}` });
    const caption = h("figcaption", {});
    replace(camera, img, caption);
    const load = async () => {
      try {
        const url = await imageUrl(`/printers/${id}/camera/snapshot`);
        if (cameraUrl) URL.revokeObjectURL(cameraUrl);
        cameraUrl = url;
        img.src = url;
        caption.textContent = `Snapshot ${new Date().toLocaleTimeString()}`;
      } catch (err) {
        caption.textContent = `No snapshot: ${err.message}`;
      }
    };
    load();
    cameraTimer = setInterval(() => document.visibilityState === "visible" && load(), CAMERA_EVERY_MS);
  }

  return {
    el,
    update,
    dispose() {
      clearInterval(cameraTimer);
      if (cameraUrl) URL.revokeObjectURL(cameraUrl);
    },
  };
}

// The live status, except that a finished print whose bed was cleared shows the farm's
// own state (idle): the printer keeps reporting "finished" until the next job.
export function stateOf(info, s) {
  if (s.hub_online === false) return "offline";
  if (s.bed_clear_required) return "finished";
  if (!s.status || s.status === "finished") return info.status;
  return s.status;
}

// A button; ``scope`` marks one that changes something (only shown to keys with it).
export function button(label, cls, onClick, scope = null) {
  const b = h("button", { type: "button", class: cls || null, text: label, "data-scope": scope });
  b.addEventListener("click", () => onClick(b));
  return b;
}
