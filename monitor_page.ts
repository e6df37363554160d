/**
 * The monitoring page: plain HTML, CSS and a small script, shipped as string
 * constants (so the module needs no file reads from JSR or npm, and no CDN or
 * framework at run time). The script opens `events?token=…` (Server-Sent
 * Events) and renders each update with `textContent` (nothing from the
 * update is parsed as HTML); the latency chart is a plain `<canvas>`.
 *
 * The page's elements carry ids the browser test reads: `conn`, `seq` (the
 * `data-seq` of `<body>` counts updates), `bbo-<asset>`, `ladder-<asset>`,
 * `pos-<asset>`, `trades`, `orders`, `order-updates`, `latency`.
 *
 * @example
 * ```ts
 * import { pageHtml } from "./monitor_page.ts";
 * console.log(pageHtml().startsWith("<!doctype html>")); // true
 * ```
 *
 * @module
 */

/** The page's style sheet (its CSP hash is computed when the monitor starts). */
export const PAGE_STYLE: string = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--mute:#6a737d;--line:#d8dde3;--bid:#1a7f37;
--ask:#cf222e;--card:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#8b949e;--line:#30363d;
--bid:#3fb950;--ask:#f85149;--card:#161b22}}
*{box-sizing:border-box}
body{margin:0;padding:12px 16px;font:13px/1.35 ui-monospace,SFMono-Regular,Menlo,monospace;
background:var(--bg);color:var(--fg)}
header{display:flex;gap:16px;align-items:baseline;flex-wrap:wrap;margin-bottom:10px}
h1{font-size:16px;margin:0}h2{font-size:13px;margin:0 0 6px;color:var(--mute);font-weight:600}
.badge{padding:1px 8px;border-radius:10px;background:var(--mute);color:#fff}
.badge.up{background:var(--bid)}.badge.down{background:var(--ask)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(400px,1fr));gap:12px;margin-bottom:12px}
section{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 10px;
overflow:auto}
table{border-collapse:collapse;width:100%}
td,th{padding:1px 4px;text-align:right;white-space:nowrap}
th{color:var(--mute);font-weight:600;border-bottom:1px solid var(--line)}
td:first-child,th:first-child{text-align:left}
.buy{color:var(--bid)}.sell{color:var(--ask)}.warn{color:var(--ask);font-weight:600}
.ladder{max-width:520px}.ladder td{position:relative}
.bar{position:absolute;top:2px;bottom:2px;right:0;opacity:.18}
.bar.buy{background:var(--bid)}.bar.sell{background:var(--ask)}
.grid.wide{grid-template-columns:repeat(auto-fit,minmax(560px,1fr))}
section h2+table+h2,table+h2{margin-top:10px}
.kv{display:grid;grid-template-columns:auto auto;gap:0 12px}.kv span:nth-child(odd){color:var(--mute)}
canvas{width:100%;height:180px;display:block}
.legend span{margin-right:12px}.mute{color:var(--mute)}
`;

/** The page's script (its CSP hash is computed when the monitor starts). */
export const PAGE_SCRIPT: string = `
"use strict";
const $ = (id) => document.getElementById(id);
const tok = new URLSearchParams(location.search).get("token") || "";
const SIDE = { 1: "buy", "-1": "sell" };
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function row(cells, cls) {
  const tr = el("tr", undefined, cls);
  for (const c of cells) tr.append(c instanceof Node ? c : el("td", String(c)));
  return tr;
}
function fill(tbody, rows) { tbody.replaceChildren(...rows); }
const us = (ns) => Number.isFinite(ns) && ns !== null ? (ns / 1e3).toFixed(0) + " µs" : "–";
const time = (ms) => new Date(ms).toISOString().slice(11, 23);
const age = (ms) => ms < 1000 ? ms.toFixed(0) + " ms" : (ms / 1000).toFixed(1) + " s";
let inst = [];
function fmtP(a, p) { return Number.isFinite(p) && p !== null ? p.toFixed(inst[a] ? inst[a].pd : 2) : "–"; }
function fmtQ(a, q) { return Number.isFinite(q) && q !== null ? q.toFixed(inst[a] ? inst[a].qd : 3) : "–"; }
function sym(a) { return inst[a] ? inst[a].symbol : "#" + a; }
function kv(box, pairs) {
  box.replaceChildren();
  for (const [k, v, warn] of pairs) box.append(el("span", k), el("span", String(v), warn ? "warn" : ""));
}
function instruments(list) {
  const box = $("books");
  if (box.childElementCount !== list.length) {
    box.replaceChildren();
    for (const i of list) {
      const s = el("section");
      s.append(el("h2", i.symbol + " @ " + i.connector));
      const b = el("div"); b.id = "bbo-" + i.asset; s.append(b);
      const p = el("div"); p.id = "pos-" + i.asset; s.append(p);
      const t = el("table", undefined, "ladder"); t.id = "ladder-" + i.asset;
      t.append(row([el("th", "bid qty"), el("th", "price"), el("th", "ask qty")]));
      t.append(el("tbody"));
      s.append(t);
      box.append(s);
    }
  }
  for (const i of list) {
    const b = i.bbo;
    $("bbo-" + i.asset).textContent = b ? "bbo " + fmtQ(i.asset, b[1]) + " @ " + fmtP(i.asset, b[0]) +
      " | " + fmtP(i.asset, b[2]) + " x " + fmtQ(i.asset, b[3]) : "bbo –";
    $("pos-" + i.asset).textContent = "position " + (i.position === null ? "–" : fmtQ(i.asset, i.position));
    const max = Math.max(1e-12, ...i.bids.map((l) => l[1]), ...i.asks.map((l) => l[1]));
    const rows = [];
    const lvl = (side, l) => {
      const q = el("td", fmtQ(i.asset, l[1]));
      const bar = el("div", undefined, "bar " + side);
      bar.style.width = (100 * l[1] / max).toFixed(1) + "%";
      q.append(bar);
      const px = el("td", fmtP(i.asset, l[0]), side);
      return side === "buy" ? row([q, px, el("td", "")]) : row([el("td", ""), px, q]);
    };
    for (let k = i.asks.length - 1; k >= 0; k--) rows.push(lvl("sell", i.asks[k]));
    for (const l of i.bids) rows.push(lvl("buy", l));
    fill($("ladder-" + i.asset).tBodies[0], rows);
  }
}
function health(u) {
  const h = u.health;
  fill($("conns").tBodies[0], h.connectors.map((c) => row([c.name, el("td", c.up ? "up" : "down", c.up ? "" : "warn")])));
  fill($("insts").tBodies[0], h.instruments.map((i) => row([
    i.symbol, el("td", i.registered ? "yes" : i.waiting ? "waiting" : "no", i.registered ? "" : "warn"),
    el("td", i.stale ? "STALE" : "fresh", i.stale ? "warn" : ""),
    i.lastMarketAgoMs === null ? "–" : age(i.lastMarketAgoMs),
  ])));
  const c = h.counters;
  kv($("counters"), [
    ["events/s", c.eventsPerSecond], ["events total", c.eventsTotal],
    ["reconnects", c.reconnects, c.reconnects > 0], ["engine drops", c.engineDrops, c.engineDrops > 0],
    ["stream drops", c.streamDrops], ["unknown records", c.unknownRecords, c.unknownRecords > 0],
    ["inexact fills", c.inexactFills], ["callback errors", c.callbackErrors, c.callbackErrors > 0],
    ["illegal transitions", c.illegalTransitions, c.illegalTransitions > 0],
    ["rate limited", c.rateLimited], ["requests queued", c.queued], ["requests in flight", c.inFlight],
    ["unanswered", c.unanswered, c.unanswered > 0], ["errors", c.errors],
    ["feed p50 / p99", us(h.feed[0]) + " / " + us(h.feed[1])],
    ["order p50 / p99", us(h.order[0]) + " / " + us(h.order[1])],
  ]);
}
function chart(points) {
  const cv = $("latency");
  const w = cv.clientWidth || 600, hgt = cv.clientHeight || 180;
  if (cv.width !== w) cv.width = w;
  if (cv.height !== hgt) cv.height = hgt;
  const g = cv.getContext("2d");
  g.clearRect(0, 0, w, hgt);
  const css = getComputedStyle(document.documentElement);
  g.strokeStyle = css.getPropertyValue("--line"); g.fillStyle = css.getPropertyValue("--mute");
  g.font = "11px monospace";
  const lo = 1, hi = 6; // log10 of µs... 10 µs .. 1 s
  const y = (ns) => hgt - 14 - (Math.log10(Math.max(ns / 1e3, 10)) - lo) / (hi - lo) * (hgt - 24);
  for (let d = lo; d <= hi; d++) {
    const yy = y(10 ** d * 1e3);
    g.beginPath(); g.moveTo(40, yy); g.lineTo(w, yy); g.stroke();
    g.fillText(["", "10µs", "100µs", "1ms", "10ms", "100ms", "1s"][d], 2, yy + 4);
  }
  const n = 120, x = (k) => 40 + (w - 44) * k / (n - 1);
  const off = n - points.length;
  const series = [[1, "--bid", []], [2, "--bid", [4, 3]], [3, "--ask", []], [4, "--ask", [4, 3]]];
  for (const [f, color, dash] of series) {
    g.strokeStyle = css.getPropertyValue(color); g.setLineDash(dash); g.beginPath();
    let pen = false;
    points.forEach((p, k) => {
      const v = p[f];
      if (v === null) { pen = false; return; }
      if (pen) g.lineTo(x(off + k), y(v)); else g.moveTo(x(off + k), y(v));
      pen = true;
    });
    g.stroke();
  }
  g.setLineDash([]);
  const last = points[points.length - 1];
  $("lat-now").textContent = last ? "last second: feed " + us(last[1]) + " / " + us(last[2]) +
    " (" + last[5] + " samples), order " + us(last[3]) + " / " + us(last[4]) + " (" + last[6] + ")" : "";
}
function update(u) {
  inst = u.instruments;
  document.body.dataset.seq = String(u.seq);
  $("seq").textContent = "update " + u.seq + " at " + time(u.t);
  const conn = $("conn");
  conn.textContent = u.health.connected ? "connected" : "disconnected";
  conn.className = "badge " + (u.health.connected ? "up" : "down");
  health(u);
  instruments(u.instruments);
  fill($("trades").tBodies[0], u.trades.map((t) => row([time(t.t), sym(t.a), el("td", SIDE[t.s] || "?", SIDE[t.s]),
    fmtQ(t.a, t.q), fmtP(t.a, t.p)])));
  fill($("orders").tBodies[0], u.orders.map((o) => row([String(o.id), sym(o.a), el("td", SIDE[o.s] || "?", SIDE[o.s]),
    fmtQ(o.a, o.q) + " @ " + fmtP(o.a, o.p), o.status, o.req, fmtQ(o.a, o.leaves), age(o.ageMs)])));
  fill($("order-updates").tBodies[0], u.orderUpdates.map((o) => row([time(o.t), String(o.id), sym(o.a), o.status,
    fmtQ(o.a, o.leaves), o.execQty > 0 ? fmtQ(o.a, o.execQty) + " @ " + fmtP(o.a, o.execPrice) : ""])));
  chart(u.latency);
}
// The server ends each stream after a few seconds and the browser reconnects at once:
// "reconnecting" only shows when no update came for 2 s.
let quiet;
const es = new EventSource("events?token=" + encodeURIComponent(tok));
es.onmessage = (m) => {
  clearTimeout(quiet);
  update(JSON.parse(m.data));
};
es.addEventListener("closed", () => {
  clearTimeout(quiet);
  es.close();
  $("conn").textContent = "client closed";
  $("conn").className = "badge down";
});
es.onerror = () => {
  clearTimeout(quiet);
  quiet = setTimeout(() => {
    if (es.readyState === EventSource.CLOSED) return;
    $("conn").textContent = "reconnecting";
    $("conn").className = "badge";
  }, 2000);
};
`;

/** The page's body. */
const BODY = `
<header><h1>hftlive monitor</h1><span id="conn" class="badge">connecting</span>
<span id="seq" class="mute"></span><span class="mute">read-only</span></header>
<div class="grid">
<section><h2>connectors</h2><table id="conns"><thead><tr><th>connector</th><th>state</th></tr>
</thead><tbody></tbody></table>
<h2>instruments</h2><table id="insts"><thead><tr><th>symbol</th><th>registered</th>
<th>data</th><th>last market</th></tr></thead><tbody></tbody></table></section>
<section><h2>health</h2><div id="counters" class="kv"></div></section>
<section><h2>latency per second (p50 solid, p99 dashed)</h2>
<div class="legend"><span class="buy">feed</span><span class="sell">order round trip</span>
<span id="lat-now" class="mute"></span></div><canvas id="latency"></canvas></section>
</div>
<div id="books" class="grid" role="region" aria-label="books"></div>
<div class="grid wide">
<section><h2>active orders</h2><table id="orders"><thead><tr><th>id</th><th>symbol</th><th>side</th>
<th>qty @ price</th><th>status</th><th>request</th><th>leaves</th><th>age</th></tr></thead>
<tbody></tbody></table></section>
<section><h2>order updates</h2><table id="order-updates"><thead><tr><th>time</th><th>id</th>
<th>symbol</th><th>status</th><th>leaves</th><th>fill</th></tr></thead><tbody></tbody></table>
</section>
<section><h2>recent trades</h2><table id="trades"><thead><tr><th>time</th><th>symbol</th>
<th>side</th><th>qty</th><th>price</th></tr></thead><tbody></tbody></table></section>
</div>
`;

/**
 * The whole page (the same bytes every time).
 *
 * @example
 * ```ts
 * import { pageHtml } from "./monitor_page.ts";
 * console.log(pageHtml().includes('id="latency"')); // true
 * ```
 */
export function pageHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">
<title>hftlive monitor</title>
<style>${PAGE_STYLE}</style></head>
<body data-seq="0">${BODY}<script>${PAGE_SCRIPT}</script></body></html>
`;
}
