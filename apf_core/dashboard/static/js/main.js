// Start-up, sign-in and the page router.

import { ApiError, get, session } from "./api.js";
import { h, notice, replace } from "./dom.js";
import { Live } from "./live.js";
import { store } from "./store.js";
import * as farm from "./farm.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const liveLabel = document.getElementById("live");
const pages = {
  farm: () => Promise.resolve(farm),
  queue: () => import("./queue.js"),
  files: () => import("./files.js"),
  stock: () => import("./stock.js"),
  events: () => import("./events.js"),
};
const eventListeners = new Set();
let current = null;
let live = null;

export function onEvent(fn) {
  eventListeners.add(fn);
  return () => eventListeners.delete(fn);
}

export function lastEventId() {
  return live ? live.lastId : null;
}

function signInForm(reason) {
  const note = notice();
  const input = h("input", {
    id: "key",
    name: "key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "apf_live_…",
    "aria-describedby": "key-help",
  });
  const button = h("button", { type: "submit", class: "primary", text: "Sign in" });
  const form = h(
    "form",
    { class: "signin card", "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title", text: "Sign in" }),
    h("label", { for: "key", text: "API key" }),
    input,
    h("p", { id: "key-help", class: "hint" },
      "Kept only in this browser tab. Create one with ",
      h("code", { text: "apf keys create --name dashboard --scopes read,write,control" }),
      "; a read-only key gives a read-only dashboard."),
    button,
    note.el,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    session.key = input.value.trim();
    try {
      await start();
    } catch (err) {
      session.key = null;
      note.error(err);
    } finally {
      button.disabled = false;
    }
  });
  if (reason) note.error(reason);
  nav.hidden = true;
  document.getElementById("session").hidden = true;
  replace(main, form);
  input.focus();
}

async function start() {
  const server = await get("/server");
  const key = server.key || {};
  session.scopes = new Set(key.scopes || []);
  session.name = key.name || "";
  document.getElementById("who").textContent =
    `${session.name} · ${[...session.scopes].join(", ") || "no scopes"}`;
  nav.hidden = false;
  document.getElementById("session").hidden = false;
  live = new Live(
    (evt) => {
      store.apply(evt);
      for (const fn of eventListeners) fn(evt);
    },
    (state, frame) => {
      liveLabel.textContent = state === "live" ? "live" : frame ? `${state}: ${frame.error}` : state;
      liveLabel.dataset.state = state;
    },
  );
  live.start();
  await Promise.all([store.loadPrinters(), store.loadJobs()]);
  await route();
}

async function route() {
  if (!session.key || nav.hidden) return;
  const name = location.hash.slice(1) || "farm";
  const load = pages[name] || pages.farm;
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (current) current.unmount();
  current = null;
  const module = await load();
  const root = h("section", { class: "page", "aria-label": name });
  replace(main, root);
  current = module.mount(root, { onEvent, lastEventId });
  document.title = `APF · ${name}`;
}

function signOut(reason) {
  if (live) live.stop();
  live = null;
  if (current) current.unmount();
  current = null;
  session.key = null;
  session.scopes = new Set();
  signInForm(reason);
}

window.addEventListener("hashchange", () => {
  route().then(() => main.focus({ preventScroll: true }));
});
window.addEventListener("apf:unauthorized", (e) => {
  const detail = e.detail || {};
  signOut(new ApiError(401, detail.code, detail.message || detail.error || "Signed out", null));
});
document.getElementById("signout").addEventListener("click", () => signOut(null));

if (session.key) {
  start().catch((err) => {
    session.key = null;
    signInForm(err);
  });
} else {
  signInForm(null);
}
