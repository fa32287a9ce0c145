// Events: the live event log with filters (type pattern, telemetry on/off).

import { get } from "./api.js";
import { h, notice, replace } from "./dom.js";
import { store } from "./store.js";

const KEEP = 500;
const TELEMETRY = new Set(["printer.status", "job.progress"]);

function matcher(text) {
  const patterns = text.split(",").map((p) => p.trim()).filter(Boolean);
  if (!patterns.length) return () => true;
  return (type) => patterns.some((p) => (p === "*" ? true : p.endsWith(".*") ? type.startsWith(p.slice(0, -1)) : type === p || type.startsWith(`${p}.`)));
}

function summary(data) {
  if (!data || typeof data !== "object") return "";
  const picks = ["file_name", "name", "status", "printer_id", "job_id", "sku", "order_number", "error"];
  const printer = store.printers.get(data.printer_id);
  const shown = (k) => (k === "printer_id" && printer ? `printer=${printer.info.name}` : `${k}=${data[k]}`);
  return picks.filter((k) => data[k] !== undefined && data[k] !== null).map(shown).join(" ");
}

export function mount(root, ctx) {
  const note = notice();
  const typeInput = h("input", { id: "ev-type", type: "search", placeholder: "job.*, printer.error", "aria-describedby": "ev-help" });
  const telemetry = h("input", { id: "ev-telemetry", type: "checkbox" });
  const list = h("ol", { class: "log", id: "event-log", "aria-live": "off" });
  const count = h("p", { class: "hint", role: "status" });
  replace(root,
    h("h2", { text: "Events" }),
    h("div", { class: "filters" },
      h("div", {}, h("label", { for: "ev-type", text: "Types" }), typeInput,
        h("span", { id: "ev-help", class: "hint", text: "Comma-separated; job.* matches every job event." })),
      h("div", { class: "row" }, telemetry, h("label", { for: "ev-telemetry", text: "Show telemetry" }))),
    note.el, count, h("div", { class: "table-wrap" }, list));
  const events = [];
  let match = matcher("");

  function visible(evt) {
    return match(evt.type) && (telemetry.checked || !TELEMETRY.has(evt.type));
  }
  function line(evt) {
    return h("li", { "data-type": evt.type },
      h("time", { datetime: evt.time, text: new Date(evt.time).toLocaleTimeString() }), " ",
      h("span", { class: "type", text: evt.type }), " ", summary(evt.data));
  }
  function render() {
    replace(list, events.filter(visible).slice(-KEEP).reverse().map(line));
    count.textContent = `${list.children.length} shown of ${events.length} received`;
  }
  function add(evt) {
    if (events.length && evt.id <= events[events.length - 1].id) return;
    events.push(evt);
    if (events.length > KEEP * 2) events.splice(0, events.length - KEEP * 2);
    if (visible(evt)) list.prepend(line(evt));
    while (list.children.length > KEEP) list.lastChild.remove();
    count.textContent = `${list.children.length} shown of ${events.length} received`;
  }

  typeInput.addEventListener("input", () => ((match = matcher(typeInput.value)), render()));
  telemetry.addEventListener("change", render);
  const buffered = [];
  let loading = true;
  const off = ctx.onEvent((evt) => (loading ? buffered.push(evt) : add(evt)));
  const last = ctx.lastEventId() || 0;
  get(`/events?after=${Math.max(0, last - 200)}&limit=200`)
    .then((recent) => events.push(...recent))
    .catch((err) => note.error(err))
    .finally(() => {
      loading = false;
      render();
      for (const evt of buffered) add(evt);
    });
  return { unmount: off };
}
