// What the pages show, kept current by the event stream (no polling): telemetry
// frames are merged as they come; state changes re-read the one printer concerned.

import { get } from "./api.js";

const ACTIVE = ["queued", "processing", "uploaded", "printing", "paused"];

export const store = {
  printers: new Map(), // id -> { info, status, error }
  jobs: new Map(), // active and queued jobs by id
  listeners: new Set(),
  pending: new Map(),

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  },

  notify(change) {
    for (const fn of this.listeners) fn(change);
  },

  async loadPrinters() {
    const list = await get("/printers");
    const entries = await Promise.all(list.map(async (info) => [info.id, await this.readStatus(info)]));
    this.printers = new Map(entries);
    this.notify({ kind: "printers" });
  },

  async readStatus(info) {
    try {
      return { info, status: await get(`/printers/${info.id}/status`), error: null };
    } catch (err) {
      return { info, status: null, error: err };
    }
  },

  async refreshPrinter(id) {
    try {
      const info = await get(`/printers/${id}`);
      this.printers.set(id, await this.readStatus(info));
      this.notify({ kind: "printer", id });
    } catch (err) {
      if (err.status === 404) {
        this.printers.delete(id);
        this.notify({ kind: "printers" });
      }
    }
  },

  later(id) {
    clearTimeout(this.pending.get(id));
    this.pending.set(id, setTimeout(() => this.refreshPrinter(id), 120));
  },

  async loadJobs() {
    const lists = await Promise.all(ACTIVE.map((s) => get(`/jobs?status=${s}&limit=100`)));
    this.jobs = new Map(lists.flat().map((job) => [job.id, job]));
    this.notify({ kind: "jobs" });
  },

  upsertJob(job) {
    if (ACTIVE.includes(job.status)) this.jobs.set(job.id, job);
    else this.jobs.delete(job.id);
    this.notify({ kind: "jobs" });
  },

  apply(evt) {
    const data = evt.data || {};
    const type = evt.type;
    if (type === "printer.status") {
      const entry = this.printers.get(data.printer_id);
      if (!entry) return;
      entry.status = { ...(entry.status || {}), ...data, hub_online: data.online ?? true };
      this.notify({ kind: "printer", id: data.printer_id });
    } else if (type === "job.progress") {
      const job = this.jobs.get(data.job_id);
      if (job) job.progress_percentage = data.progress_percentage;
      const entry = this.printers.get(data.printer_id);
      if (entry && entry.status) {
        Object.assign(entry.status, {
          progress: data.progress_percentage,
          layer_num: data.layer_num,
          total_layers: data.total_layers,
          remaining_time_minutes: data.remaining_time_minutes,
        });
        this.notify({ kind: "printer", id: data.printer_id });
      }
      this.notify({ kind: "progress", id: data.job_id });
    } else if (type.startsWith("job.") && data.id) {
      this.upsertJob(data);
      if (data.printer_id) this.later(data.printer_id);
    } else if (["printer.created", "printer.deleted"].includes(type)) {
      this.loadPrinters().catch(() => {});
    } else if (type.startsWith("printer.") && (data.printer_id || data.id)) {
      this.later(data.printer_id || data.id);
    }
  },
};
