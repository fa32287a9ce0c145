// Queue: active and queued jobs; priority, start on a chosen printer, cancel, and why a
// job cannot go to a printer.

import { get, patch, post, session } from "./api.js";
import { act, h, notice, replace, when, words } from "./dom.js";
import { button } from "./farm.js";
import { store } from "./store.js";

const RUNNING = ["processing", "uploaded", "printing", "paused"];

function ordered() {
  const jobs = [...store.jobs.values()];
  const running = jobs.filter((j) => RUNNING.includes(j.status));
  const queued = jobs
    .filter((j) => j.status === "queued")
    .sort((a, b) => b.priority - a.priority || String(a.time_submitted).localeCompare(String(b.time_submitted)));
  return [...running, ...queued];
}

export function mount(root) {
  const body = h("tbody", {});
  const empty = h("p", { class: "hint", text: "Nothing queued. Queue a file from the Files page." });
  const table = h(
    "div",
    { class: "table-wrap" },
    h("table", { id: "queue" },
      h("caption", { class: "hint", text: "Running jobs first, then the queue in the order it is dispatched (higher priority first)." }),
      h("thead", {}, h("tr", {}, ["Priority", "Job", "Status", "Printer", "Actions"].map((t) => h("th", { scope: "col", text: t })))),
      body),
  );
  replace(root, h("h2", { text: "Queue" }), table, empty);
  const rows = new Map();

  function render() {
    const focused = document.activeElement;
    const jobs = ordered();
    const keep = new Set(jobs.map((j) => j.id));
    for (const [id, row] of rows) if (!keep.has(id)) (row.el.remove(), rows.delete(id));
    for (const job of jobs) {
      if (!rows.has(job.id)) rows.set(job.id, jobRow(job.id));
      const row = rows.get(job.id);
      row.update();
      body.append(row.el);
    }
    empty.hidden = jobs.length > 0;
    if (focused && focused.isConnected && focused !== document.activeElement) focused.focus();
  }

  const off = store.subscribe((change) => {
    if (change.kind === "progress" && rows.has(change.id)) rows.get(change.id).update();
    else if (change.kind === "jobs" || change.kind === "printers") render();
  });
  render();
  return { unmount: off };
}

function printerName(id) {
  const entry = id ? store.printers.get(id) : null;
  return entry ? entry.info.name : id ? "unknown printer" : "any printer";
}

function jobRow(id) {
  const note = notice();
  const prio = h("td", { class: "num" });
  const name = h("td", {});
  const status = h("td", {});
  const printer = h("td", {});
  const actions = h("div", {});
  const why = h("div", {});
  const el = h("tr", { "data-job": id }, prio, name, status, printer, h("td", {}, actions, why, note.el));
  let actionKey = null;
  let choice = null;

  function update() {
    const job = store.jobs.get(id);
    if (!job) return;
    prio.textContent = String(job.priority ?? 0);
    replace(name, h("strong", { text: job.file_name || job.id }),
      h("div", { class: "hint", text: `${job.number_of_units} unit(s) · ${job.filament_type || "any filament"} · queued ${when(job.time_submitted)}` }));
    const pct = typeof job.progress_percentage === "number" && job.status !== "queued" ? ` ${job.progress_percentage.toFixed(0)} %` : "";
    status.textContent = words(job.status) + pct;
    printer.textContent = printerName(job.printer_id);
    const key = [job.status, job.priority, job.printer_id, store.printers.size].join("|");
    if (key !== actionKey) {
      actionKey = key;
      renderActions(job);
    }
  }

  function renderActions(job) {
    const items = [];
    const queued = job.status === "queued";
    if (queued && session.can("write")) {
      items.push(button("↑", "", (b) => setPriority(b, job.priority + 1), "write"));
      items.push(button("↓", "", (b) => setPriority(b, job.priority - 1), "write"));
      items[0].setAttribute("aria-label", `Raise priority of ${job.file_name}`);
      items[1].setAttribute("aria-label", `Lower priority of ${job.file_name}`);
    }
    if (queued && session.can("control")) {
      const selectId = `start-${id}`;
      choice = h("select", { id: selectId },
        [...store.printers.values()].map((p) => h("option", { value: p.info.id, text: p.info.name, selected: p.info.id === job.printer_id })));
      items.push(h("label", { for: selectId, class: "visually-hidden", text: "Printer" }), choice);
      items.push(button("Start", "primary", (b) => act(b, note, async () => {
        if (choice.value !== job.printer_id) store.upsertJob(await patch(`/jobs/${id}`, { printer_id: choice.value }));
        store.upsertJob(await post(`/jobs/${id}/start`));
      }), "control"));
    }
    if (queued) items.push(button("Why not?", "quiet", (b) => act(b, note, explain)));
    if (session.can("control")) {
      if (job.status === "printing") items.push(button("Pause", "", (b) => act(b, note, () => post(`/jobs/${id}/pause`)), "control"));
      if (job.status === "paused") items.push(button("Resume", "primary", (b) => act(b, note, () => post(`/jobs/${id}/resume`)), "control"));
      items.push(button("Cancel", "danger", (b) => act(b, note, async () => store.upsertJob(await post(`/jobs/${id}/cancel`))), "control"));
    }
    replace(actions, h("div", { class: "row" }, items));
  }

  async function setPriority(b, value) {
    const bounded = Math.max(-100, Math.min(100, value));
    await act(b, note, async () => store.upsertJob(await patch(`/jobs/${id}`, { priority: bounded })));
  }

  async function explain() {
    const result = await get(`/jobs/${id}/eligibility`);
    const items = result.printers.map((p) =>
      h("li", {}, h("strong", { text: `${p.name}: ` }),
        p.eligible ? "can take it" : p.reasons.map((r) => r.message).join("; ")));
    const auto = result.auto_dispatch_enabled ? "Auto-dispatch is on." : "Auto-dispatch is off: start it by hand.";
    replace(why, h("p", { class: "hint", text: `${result.eligible_printer_count} printer(s) can take this job. ${auto}` }), h("ul", { class: "why" }, items));
  }

  return { el, update };
}
