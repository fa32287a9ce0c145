// The public API client: the key lives in sessionStorage (gone with the tab) and is
// sent as the Bearer header; it is never put in a URL.

export const BASE = "/public/v1";
const STORE = "apf.key";

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export const session = {
  get key() {
    return sessionStorage.getItem(STORE);
  },
  set key(value) {
    if (value) sessionStorage.setItem(STORE, value);
    else sessionStorage.removeItem(STORE);
  },
  scopes: new Set(),
  name: "",
  can(scope) {
    return this.scopes.has(scope);
  },
};

const unauthorized = new Set(["UNAUTHORIZED", "TOKEN_INVALID", "TOKEN_REVOKED", "TOKEN_EXPIRED"]);

function headers(extra = {}) {
  const out = { ...extra };
  if (session.key) out.Authorization = `Bearer ${session.key}`;
  return out;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const code = (body && body.code) || `HTTP_${response.status}`;
  const message = (body && body.error) || response.statusText || "Request failed";
  const err = new ApiError(response.status, code, message, body);
  if (unauthorized.has(code)) window.dispatchEvent(new CustomEvent("apf:unauthorized", { detail: err }));
  return err;
}

async function send(method, path, body) {
  const init = { method, headers: headers(), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, "NETWORK", "The server could not be reached", null);
  }
}

// Returns the envelope's `data` (and `meta` as a property of arrays).
export async function api(method, path, body) {
  const response = await send(method, path, body);
  if (!response.ok) throw await failure(response);
  const envelope = await response.json();
  const data = envelope.data;
  if (Array.isArray(data) && envelope.meta) data.meta = envelope.meta;
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);

// An image behind the key (thumbnail, camera snapshot) as an object URL.
export async function imageUrl(path) {
  const response = await send("GET", path);
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}

// PUT raw bytes with upload progress (fetch cannot report it).
export function uploadBytes(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("Authorization", `Bearer ${session.key}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, "NETWORK", "The upload was interrupted", null));
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body && body.data);
      else {
        const code = (body && body.code) || `HTTP_${xhr.status}`;
        reject(new ApiError(xhr.status, code, (body && body.error) || "Upload failed", body));
      }
    };
    xhr.send(file);
  });
}
