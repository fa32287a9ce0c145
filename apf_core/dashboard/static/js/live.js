// The WebSocket event stream: authenticates with the first message (browsers cannot
// set headers on a WebSocket), reconnects with last_event_id so nothing is missed.

import { BASE, session } from "./api.js";

export class Live {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastId = null;
    this.welcomeId = null;
    this.ws = null;
    this.retry = 0;
    this.stopped = true;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${BASE}/events/ws`);
    this.ws = ws;
    this.onState("connecting");
    ws.onopen = () => {
      const hello = { kind: "auth", api_key: session.key };
      if (this.lastId !== null) hello.last_event_id = this.lastId;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (msg) => this.message(JSON.parse(msg.data));
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      this.onState("reconnecting");
      const wait = Math.min(10000, 500 * 2 ** this.retry++);
      this.timer = setTimeout(() => this.connect(), wait);
    };
  }

  message(frame) {
    if (frame.kind === "welcome") {
      this.retry = 0;
      this.welcomeId = frame.last_event_id;
      if (this.lastId === null) this.lastId = frame.last_event_id;
      this.onState("live");
    } else if (frame.kind === "event") {
      this.lastId = frame.id;
      this.onEvent(frame);
    } else if (frame.kind === "error") {
      this.onState("error", frame);
      if (["TOKEN_REVOKED", "TOKEN_EXPIRED", "TOKEN_INVALID", "UNAUTHORIZED"].includes(frame.code)) {
        this.stopped = true;
        window.dispatchEvent(new CustomEvent("apf:unauthorized", { detail: frame }));
      }
    }
  }
}
