// Stock and orders: finished-goods stock (low stock highlighted), open orders with
// produce and fulfil.

import { get, post, session } from "./api.js";
import { act, debounce, h, notice, replace, when, words } from "./dom.js";
import { button } from "./farm.js";

const OPEN = ["pending", "processing", "printed", "assembled"];

function money(cents) {
  return typeof cents === "number" ? (cents / 100).toFixed(2) : "–";
}

export function mount(root, ctx) {
  const stockNote = notice();
  const ordersNote = notice();
  const stock = h("div", { class: "table-wrap" });
  const orders = h("div", { class: "table-wrap" });
  replace(root,
    h("section", { class: "section", "aria-labelledby": "stock-title" },
      h("h2", { id: "stock-title", text: "Finished-goods stock" }), stockNote.el, stock),
    h("section", { class: "section", "aria-labelledby": "orders-title" },
      h("h2", { id: "orders-title", text: "Open orders" }), ordersNote.el, orders));

  async function loadStock() {
    try {
      const items = await get("/inventory");
      replace(stock, h("table", { id: "stock" },
        h("thead", {}, h("tr", {}, ["SKU", "Colour", "Material", "Ready", "Low at", "Status"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, items.filter((i) => i.is_active).map(stockRow))));
    } catch (err) {
      stockNote.error(err);
    }
  }

  async function loadOrders() {
    try {
      const lists = await Promise.all(OPEN.map((s) => get(`/orders?status=${s}&limit=100`)));
      const open = lists.flat();
      replace(orders, open.length
        ? h("table", { id: "orders" },
          h("thead", {}, h("tr", {}, ["Order", "Customer", "Date", "Status", "Total", "Actions"].map((t) => h("th", { scope: "col", text: t })))),
          h("tbody", {}, open.map((o) => orderRow(o, refresh))))
        : h("p", { class: "hint", text: "No open orders." }));
    } catch (err) {
      ordersNote.error(err);
    }
  }

  const refresh = debounce(() => (loadStock(), loadOrders()), 300);
  loadStock();
  loadOrders();
  const off = ctx.onEvent((evt) => {
    if (/^(inventory|order|assembly|sku)\.|^job\.completed$/.test(evt.type)) refresh();
  });
  return { unmount: off };
}

// the row shows the server's stock state (its one definition), never a figure worked out here
const STATE_CLASS = { out_of_stock: "out", low_stock: "low" };

function stockRow(item) {
  return h("tr", { class: STATE_CLASS[item.status] || "", "data-sku": item.sku, "data-status": item.status },
    h("td", { text: item.sku }), h("td", { text: item.color || "–" }), h("td", { text: item.material || "–" }),
    h("td", { class: "num", text: String(item.ready_stock) }),
    h("td", { class: "num", text: item.low_stock_threshold ?? "–" }),
    h("td", { text: words(item.status) }));
}

function orderRow(order, refresh) {
  const note = notice();
  const actions = [];
  if (session.can("write")) {
    actions.push(button("Produce", "", (b) => act(b, note, () => post(`/orders/${order.id}/produce`), (r) => {
      refresh();
      return produced(r);
    }), "write"));
    actions.push(button("Fulfil", "primary", (b) => act(b, note, () => post(`/orders/${order.id}/fulfill`, {}), (r) => {
      refresh();
      const problems = (r && r.fulfillment_errors) || [];
      return problems.length ? `Not everything shipped: ${problems.join("; ")}` : `Order ${words(r.status)}`;
    }), "write"));
  }
  return h("tr", { "data-order": order.id },
    h("td", { text: order.order_number || order.id }), h("td", { text: order.customer_name || "–" }),
    h("td", { text: when(order.order_date) }), h("td", { text: words(order.status) }),
    h("td", { class: "num", text: money(order.total_revenue) }),
    h("td", {}, h("div", { class: "row" }, actions), note.el));
}

function produced(result) {
  if (!result || typeof result !== "object") return "Production requested";
  const parts = [];
  for (const [key, value] of Object.entries(result)) {
    if (Array.isArray(value)) parts.push(`${value.length} ${words(key)}`);
  }
  return parts.length ? `Produce: ${parts.join(", ")}` : "Production requested";
}
