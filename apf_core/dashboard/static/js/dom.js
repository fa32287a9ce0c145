// Small DOM helpers: elements are built with createElement and textContent only,
// so no server text is ever parsed as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function minutes(value) {
  if (value === null || value === undefined) return "–";
  const m = Math.max(0, Math.round(value));
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function temp(current, target) {
  if (current === null || current === undefined) return "–";
  const now = `${Math.round(current)} °C`;
  return target ? `${now} → ${Math.round(target)} °C` : now;
}

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function words(status) {
  return String(status || "unknown").replaceAll("_", " ");
}

// A paragraph that shows an API error (or success text) next to what caused it.
export function notice() {
  const el = h("p", { class: "notice", role: "status", "aria-live": "polite" });
  el.hidden = true;
  return {
    el,
    error(err) {
      el.hidden = false;
      el.className = "notice error";
      el.setAttribute("role", "alert");
      el.textContent = describe(err);
    },
    info(text) {
      el.hidden = false;
      el.className = "notice info";
      el.setAttribute("role", "status");
      el.textContent = text;
    },
    clear() {
      el.hidden = true;
      el.textContent = "";
    },
  };
}

export function describe(err) {
  if (err && err.code && err.message) return `${err.message} (${err.code})`;
  return err && err.message ? err.message : String(err);
}

// Runs an action for a button: disables it meanwhile, shows the error in words.
export async function act(button, note, fn, done) {
  note.clear();
  button.disabled = true;
  try {
    const result = await fn();
    if (done) note.info(typeof done === "function" ? done(result) : done);
    return result;
  } catch (err) {
    note.error(err);
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
