// Files: drag-and-drop upload with progress, parsed metadata and thumbnail, queue N copies.

import { get, imageUrl, post, session, uploadBytes } from "./api.js";
import { act, bytes, describe, h, minutes, notice, replace } from "./dom.js";
import { button } from "./farm.js";
import { store } from "./store.js";

const ACCEPT = ".gcode,.3mf,.stl,.obj,.amf";

export function mount(root) {
  const list = h("div", { class: "grid", id: "files" });
  const listNote = notice();
  const urls = [];
  replace(root, h("h2", { text: "Files" }), session.can("write") ? uploader(reload) : null, listNote.el, list);

  async function reload() {
    try {
      const files = await get("/files?limit=100");
      replace(list, files.map((f) => fileCard(f, urls)));
      if (!files.length) list.append(h("p", { class: "hint", text: "No files yet." }));
    } catch (err) {
      listNote.error(err);
    }
  }
  reload();
  return {
    unmount() {
      for (const url of urls) URL.revokeObjectURL(url);
    },
  };
}

function uploader(done) {
  const note = notice();
  const input = h("input", { type: "file", id: "upload-input", accept: ACCEPT, multiple: true, class: "visually-hidden" });
  const bar = h("progress", { max: 100, value: 0, hidden: true, "aria-label": "Upload progress" });
  const zone = h(
    "div",
    { class: "drop", id: "dropzone" },
    h("p", {}, "Drop .gcode or .3mf files here, or "),
    h("label", { for: "upload-input", class: "button-like" }, h("span", { class: "primary-link", text: "choose files" })),
    input,
    bar,
    note.el,
  );
  const label = zone.querySelector("label");
  label.tabIndex = 0;
  label.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") (e.preventDefault(), input.click());
  });
  async function upload(files) {
    note.clear();
    for (const file of files) {
      bar.hidden = false;
      bar.value = 0;
      try {
        const ticket = await post("/files/upload-url", { filename: file.name });
        const path = new URL(ticket.upload_url, location.href).pathname; // same origin as the page
        await uploadBytes(path, file, (part) => (bar.value = Math.round(part * 100)));
        const created = await post("/files", { name: file.name, storage_key: ticket.storage_key });
        note.info(`Uploaded ${created.name}`);
      } catch (err) {
        note.error({ message: `${file.name}: ${describe(err)}` });
      }
    }
    bar.hidden = true;
    done();
  }
  input.addEventListener("change", () => upload([...input.files]).then(() => (input.value = "")));
  zone.addEventListener("dragover", (e) => (e.preventDefault(), zone.classList.add("over")));
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    upload([...e.dataTransfer.files]);
  });
  return zone;
}

function fileCard(file, urls) {
  const note = notice();
  const thumb = h("img", { class: "thumb", alt: `Thumbnail of ${file.name}`, hidden: !file.has_thumbnail });
  if (file.has_thumbnail) {
    imageUrl(`/files/${file.id}/thumbnail`)
      .then((url) => (urls.push(url), (thumb.src = url)))
      .catch(() => (thumb.hidden = true));
  }
  const facts = [
    ["Print time", file.print_time_seconds ? minutes(file.print_time_seconds / 60) : "–"],
    ["Filament", [file.filament_type, file.filament_weight_grams ? `${file.filament_weight_grams} g` : null].filter(Boolean).join(", ") || "–"],
    ["Layers", file.layer_count ?? "–"],
    ["Nozzle", file.nozzle_diameter ? `${file.nozzle_diameter} mm` : "–"],
    ["Printer model", file.printer_model_id || "any"],
    ["Size", bytes(file.file_size_bytes)],
  ];
  const card = h(
    "article",
    { class: "card file", "data-file": file.id },
    h("header", {}, h("h3", { text: file.name }), thumb),
    h("dl", { class: "temps" }, facts.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v) })])),
  );
  if (session.can("write")) card.append(queueForm(file, note));
  card.append(note.el);
  return card;
}

function queueForm(file, note) {
  const countId = `copies-${file.id}`;
  const printerId = `printer-${file.id}`;
  const count = h("input", { id: countId, type: "number", min: 1, max: 50, value: 1 });
  const printer = h("select", { id: printerId },
    h("option", { value: "", text: "any printer" }),
    [...store.printers.values()].map((p) => h("option", { value: p.info.id, text: p.info.name })));
  const queue = button("Queue", "primary", (b) => act(b, note, async () => {
    const n = Number(count.value);
    if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error("Copies: enter a whole number from 1 to 50");
    const body = { print_file_id: file.id };
    if (printer.value) body.printer_id = printer.value;
    for (let i = 0; i < n; i += 1) store.upsertJob(await post("/jobs", body));
    return n;
  }, (n) => `Queued ${n} cop${n === 1 ? "y" : "ies"}`), "write");
  return h("div", { class: "row" },
    h("label", { for: countId, text: "Copies" }), count,
    h("label", { for: printerId, text: "On" }), printer, queue);
}
