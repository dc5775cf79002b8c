// blogflow dashboard: polls the JSON API with ETags (an unchanged answer is a bodiless 304)
// and renders with textContent only, so nothing a model or a feed wrote can run as markup.
// The API token is exchanged once for an HttpOnly session cookie; control actions send the
// session's CSRF token in X-CSRF-Token.
"use strict";

const POLL_MS = 2000;
const CHART_MS = 15000;
const QUEUES = ["content-generation", "blog-publishing", "system-maintenance"];
const session = { csrf: null, canAct: false };
const cache = new Map(); // url -> { etag, body }
let timer = null;
let chartTimer = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v; // CSSOM: allowed by the page's CSP
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function fill(tbody, rows, empty) {
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 9, class: "muted" }, empty))]));
}

function ago(ms) {
  if (!ms) return "–";
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

function duration(secs) {
  const d = Math.floor(secs / 86400), h = Math.floor((secs % 86400) / 3600), m = Math.floor((secs % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min ${Math.floor(secs % 60)} s`;
}

const usd = (x) => `$${(x || 0).toFixed(4)}`;

class Unauthorized extends Error {}

async function get(path) {
  const hit = cache.get(path);
  const headers = hit ? { "If-None-Match": hit.etag } : {};
  const r = await fetch(path, { headers, credentials: "same-origin" });
  if (r.status === 304 && hit) return hit.body;
  if (r.status === 401) throw new Unauthorized();
  const body = await r.json();
  if (!r.ok) throw new Error(body.error?.message || `HTTP ${r.status}`);
  const etag = r.headers.get("ETag");
  if (etag) cache.set(path, { etag, body });
  return body;
}

async function send(method, path, body) {
  const r = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf || "" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await r.json().catch(() => ({}));
  if (r.status === 401) { showLogin(); throw new Unauthorized(); }
  if (!r.ok) throw new Error(answer.error?.message || `HTTP ${r.status}`);
  return answer;
}

function notice(text) {
  const n = $("notice");
  n.textContent = text || "";
  n.hidden = !text;
}

function act(promise) {
  promise.then(() => { notice(""); refresh(); }).catch((e) => { if (!(e instanceof Unauthorized)) notice(e.message); });
}

// --- rendering --------------------------------------------------------------------------------

function renderStatus(workflow, health) {
  const s = $("status");
  s.textContent = `${workflow.state} · ${health.status}`;
  s.className = "pill " + (health.status === "healthy" ? "ok" : health.status === "degraded" ? "warn" : "bad");
  $("uptime").textContent = `up ${duration(workflow.uptime_secs || 0)}`;
}

function renderQueues(workflow) {
  const rows = Object.entries(workflow.queues || {}).map(([name, q]) => {
    const c = q.counts;
    return el("tr", {}, el("td", {}, name), el("td", {}, c.waiting), el("td", {}, c.delayed), el("td", {}, c.active),
      el("td", {}, c.completed), el("td", { class: c.failed ? "bad" : null }, c.failed), el("td", { class: "muted" }, q.paused ? "paused" : ""));
  });
  fill($("queues").tBodies[0], rows, "no queues");
}

function renderFailed(lists) {
  const rows = lists.flatMap((l) => l.jobs.map((j) => el("tr", { "data-job": j.id },
    el("td", {}, l.queue), el("td", {}, j.name, el("br"), el("small", { class: "muted" }, j.id)),
    el("td", {}, j.last_error || ""),
    el("td", {}, session.canAct ? [
      el("button", { type: "button", onclick: () => act(send("POST", `/api/jobs/${l.queue}/${encodeURIComponent(j.id)}/retry`)) }, "Retry"),
      " ",
      el("button", { type: "button", onclick: () => act(send("DELETE", `/api/jobs/${l.queue}/${encodeURIComponent(j.id)}`)) }, "Remove"),
    ] : ""))));
  fill($("failed").tBodies[0], rows, "no failed jobs");
}

function renderSchedules(scheduler) {
  const rows = (scheduler.schedules || []).map((s) => el("tr", {},
    el("td", {}, s.name), el("td", {}, el("code", {}, s.cron)),
    el("td", {}, s.next_run ? new Date(s.next_run).toLocaleString() : "–"),
    el("td", { class: "muted" }, s.last_tick ? `${ago(Date.parse(s.last_tick) || s.last_tick)} ${s.last_outcome || ""}` : "–")));
  fill($("schedules").tBodies[0], rows, "no schedules");
}

function providerClass(p) {
  if (p.status === "failing" || ["open", "ejected"].includes(p.breaker?.state)) return "bad";
  if (p.status === "ok" && p.breaker?.state === "closed") return "ok";
  return "warn";
}

function renderProviders(data) {
  const rows = (data.providers || []).map((p) => {
    const cls = providerClass(p);
    return el("tr", { "data-provider": p.name, "data-status": cls },
      el("td", {}, p.name), el("td", {}, p.model),
      el("td", { class: cls, title: p.message || "" }, p.status),
      el("td", {}, p.breaker?.state || "–"),
      el("td", {}, p.observed?.calls ?? 0),
      el("td", {}, p.observed?.latency_ms ? `${Math.round(p.observed.latency_ms)} ms` : "–"),
      el("td", {}, usd(p.cost_usd)));
  });
  fill($("providers").tBodies[0], rows, "no provider configured");
  $("providers-note").textContent = data.message || "";
}

// Publishing targets with what waits for them ("12 posts waiting for wordpress since …").
function renderTargets(health) {
  const rows = (health.checks?.targets || []).map((t) => el("tr", { "data-target": t.name },
    el("td", {}, t.name),
    el("td", { class: t.status === "ok" ? "ok" : "bad", title: t.message || "" }, t.status),
    el("td", { class: t.waiting_posts ? "warn" : "muted" }, t.waiting_posts
      ? `${t.waiting_posts} post${t.waiting_posts === 1 ? "" : "s"} since ${new Date(t.waiting_since).toLocaleString()}`
      : "–")));
  fill($("targets").tBodies[0], rows, "no publishing target");
}

function renderWorkers(data) {
  const rows = (data.workers || []).map((w) => el("tr", { "data-status": w.status },
    el("td", {}, w.role), el("td", {}, w.host), el("td", {}, w.pid),
    el("td", { class: w.status === "alive" ? "ok" : "bad" }, w.status),
    el("td", { title: w.in_flight.map((j) => `${j.queue}/${j.job_id}`).join("\n") }, w.in_flight.length),
    el("td", { class: "muted" }, ago(w.beat_at))));
  fill($("workers").tBodies[0], rows, "no heartbeat yet");
}

function renderPosts(data) {
  const rows = (data.posts || []).map((p) => el("tr", { "data-post": p.id, "data-status": p.status },
    el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); showPost(p.id); } }, p.title)),
    el("td", { class: p.status === "published" ? "ok" : p.status === "held" ? "warn" : null }, p.status),
    el("td", {}, p.quality_score), el("td", {}, usd(p.cost_usd)), el("td", { class: "muted" }, ago(p.created_at)),
    el("td", {}, session.canAct && p.status === "held" ? [
      el("button", { type: "button", onclick: () => act(send("POST", `/api/posts/${p.id}/approve`, {})) }, "Approve"), " ",
      el("button", { type: "button", onclick: () => act(send("POST", `/api/posts/${p.id}/reject`, {})) }, "Reject"),
    ] : "")));
  fill($("posts").tBodies[0], rows, "no posts yet");
}

async function showPost(id) {
  const d = await get(`/api/posts/${encodeURIComponent(id)}`);
  const box = $("post-detail");
  const parts = (d.post.quality?.parts || []).map((part) => {
    const pct = part.max ? Math.round((100 * part.points) / part.max) : 0;
    return [
      el("span", { title: part.note || "" }, part.name),
      el("span", { class: "bar" }, el("i", { style: `width:${pct}%` })),
      el("span", {}, `${Math.round(part.points)}/${Math.round(part.max)}`),
    ];
  });
  box.replaceChildren(
    el("h3", {}, d.post.content?.title || d.post.title || id),
    el("p", { class: "muted" }, `${d.post.provider} · ${d.post.model} · ${d.post.generation_ms} ms · score ${d.post.quality?.score}`,
      d.post.hold_reason ? ` · held: ${d.post.hold_reason}` : ""),
    el("div", { class: "bars" }, parts.flat()),
    ...provenance(d.post),
    el("h3", {}, "Published to"),
    el("ul", { class: "list" }, (d.publications || []).map((p) => el("li", {}, `${p.target}: ${p.location}`))),
  );
  box.hidden = false;
}

// What a post rests on: its sources (links open the page read), the claims they do not
// support, links removed from its body and pages that could not be read.
function provenance(post) {
  const out = [el("h3", {}, "Sources")];
  if (post.grounded) {
    out.push(el("ol", { class: "list", id: "post-sources" }, (post.sources || []).map((s) =>
      el("li", {}, el("a", { href: s.url, target: "_blank", rel: "noopener noreferrer" }, s.title || s.url)))));
  } else {
    out.push(el("p", { class: "muted" }, "not grounded: written from the model's knowledge, no source read"));
  }
  const claims = post.unsupported_claims || [];
  if (claims.length) {
    out.push(el("h3", {}, "Unsupported claims"),
      el("ul", { class: "list warn", id: "post-claims" }, claims.map((c) => el("li", {}, `${c.kind}: ${c.text}`))));
  }
  const removed = post.removed_links || [];
  if (removed.length) {
    out.push(el("h3", {}, "Links removed"), el("ul", { class: "list muted" }, removed.map((l) => el("li", {}, l))));
  }
  const unread = post.unread_sources || [];
  if (unread.length) {
    out.push(el("h3", {}, "Pages not used"), el("ul", { class: "list muted" }, unread.map((u) => el("li", {}, `${u.url}: ${u.reason}`))));
  }
  return out;
}

function renderAlerts(health) {
  const alerts = [...(health.alerts?.active || []).map((a) => ({ ...a, active: true })), ...(health.alerts?.recent || [])].slice(0, 20);
  $("alerts").replaceChildren(...(alerts.length ? alerts.map((a) => el("li", { class: a.active ? "" : "muted" },
    el("strong", {}, `${a.severity || ""} `), a.key || "", " – ", a.message || a.summary || "")) : [el("li", { class: "muted" }, "no alerts")]));
  const actions = (health.recovery_actions || []).slice(0, 20);
  $("recoveries").replaceChildren(...(actions.length ? actions.map((r) => el("li", {}, `${ago(r.at)} ${JSON.stringify(r.check)}: ${JSON.stringify(r.action)} (${r.outcome || ""})`))
    : [el("li", { class: "muted" }, "none")]));
}

function renderCosts(c) {
  const days = (c.days || []).slice(-7).map((d) => el("li", {}, `${d.day || d.date || d[0]}: ${d.posts ?? d[1]} posts, ${usd(d.cost_usd ?? d[2])}`));
  $("costs").replaceChildren(
    el("p", {}, `today ${c.today?.posts ?? 0} posts, ${usd(c.today?.cost_usd)}; total ${usd(c.total_cost_usd)}`,
      c.daily_budget_usd ? ` · budget ${usd(c.daily_budget_usd)}/day` : "", c.stopped ? ` · stopped: ${c.stopped}` : ""),
    el("ul", { class: "list" }, days));
}

const charts = new Map();
const SERIES = [
  ["CPU %", (s) => s.cpu_system_pct, (s) => s.cpu_process_pct, "system", "process"],
  ["Memory", (s) => s.memory_system_pct, null, "system %"],
  ["Latency (p95 s)", (s) => s.api_p95_secs, (s) => s.llm_p95_secs, "API", "LLM"],
  ["Throughput", (s) => s.jobs_per_min, (s) => s.posts, "jobs/min", "posts"],
  ["Error rate %", (s) => s.error_rate_pct, null, "errors"],
];

// The window the x axis shows, in seconds: the whole chosen window ending now, so that a
// single sample is drawn at its time instead of on an axis uPlot stretches over years.
const WINDOW_SECS = { hour: 3600, day: 86400, month: 31 * 86400 };
const xRange = () => {
  const now = Date.now() / 1000;
  return [now - (WINDOW_SECS[$("window").value] || 3600), now];
};

async function renderCharts() {
  if (typeof uPlot === "undefined") return;
  const h = await get(`/api/metrics/history?window=${$("window").value}`);
  const samples = h.samples || [];
  const box = $("charts");
  for (const [title, a, b, la, lb] of SERIES) {
    const data = [samples.map((s) => s.ts / 1000), samples.map((s) => a(s) ?? null)];
    const series = [{}, { label: la, stroke: "#2b6cb0" }];
    if (b) { data.push(samples.map((s) => b(s) ?? null)); series.push({ label: lb, stroke: "#d69e2e" }); }
    let chart = charts.get(title);
    if (!chart) {
      const holder = el("div", { class: "chart" }, el("h4", {}, title));
      box.append(holder);
      chart = new uPlot({ width: 380, height: 160, series, scales: { x: { time: true, auto: false } } }, data, holder);
      charts.set(title, chart);
    } else {
      chart.setData(data);
    }
    const [min, max] = xRange();
    chart.setScale("x", { min, max });
  }
}

// --- loop -------------------------------------------------------------------------------------

async function refresh() {
  try {
    const [workflow, scheduler, providers, posts, health, costs, workers, ...failed] = await Promise.all([
      get("/api/automation/workflow"), get("/api/automation/scheduler"), get("/api/providers"),
      get("/api/posts?limit=15"), get("/api/automation/health"), get("/api/costs"), get("/api/workers"),
      ...QUEUES.map((q) => get(`/api/jobs?queue=${q}&state=failed&limit=10`)),
    ]);
    renderStatus(workflow, health);
    renderQueues(workflow);
    renderFailed(failed);
    renderSchedules(scheduler);
    renderProviders(providers);
    renderTargets(health);
    renderWorkers(workers);
    renderPosts(posts);
    renderAlerts(health);
    renderCosts(costs);
    $("conn").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin();
    $("conn").textContent = `cannot reach blogflow: ${e.message}`;
  }
}

function startLoop() {
  $("login").hidden = true;
  $("main").hidden = false;
  $("controls").hidden = !session.canAct;
  refresh();
  renderCharts().catch(() => {});
  clearInterval(timer);
  clearInterval(chartTimer);
  timer = setInterval(refresh, POLL_MS);
  chartTimer = setInterval(() => renderCharts().catch(() => {}), CHART_MS);
}

function showLogin() {
  clearInterval(timer);
  clearInterval(chartTimer);
  cache.clear();
  $("main").hidden = true;
  $("controls").hidden = true;
  $("login").hidden = false;
}

async function boot() {
  const s = await (await fetch("/api/session", { credentials: "same-origin" })).json();
  session.csrf = s.csrf;
  session.canAct = s.authenticated;
  if (!s.mutations_enabled) notice("Read-only: set BLOGFLOW_API_TOKEN and restart to control blogflow from here.");
  if (s.authenticated || !s.login_required_to_read) startLoop();
  if (!s.authenticated && s.mutations_enabled && s.login_required_to_read) showLogin();
  if (!s.authenticated && s.mutations_enabled && !s.login_required_to_read) $("login").hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("token");
    const r = await fetch("/api/session", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: token.value }),
    });
    token.value = "";
    const body = await r.json();
    if (!r.ok) { $("login-error").textContent = body.error?.message || "login failed"; return; }
    $("login-error").textContent = "";
    session.csrf = body.csrf;
    session.canAct = true;
    startLoop();
  });
  for (const b of document.querySelectorAll("#controls [data-action]")) {
    b.addEventListener("click", () => {
      const action = b.dataset.action;
      const body = action === "generate_content" ? { action, count: Number($("count").value) || 1 } : { action };
      act(send("POST", "/api/automation/workflow", body));
    });
  }
  $("logout").addEventListener("click", () => act(send("DELETE", "/api/session").then(() => { session.canAct = false; session.csrf = null; location.reload(); })));
  $("window").addEventListener("change", () => renderCharts().catch(() => {}));
  boot().catch((e) => notice(`cannot reach blogflow: ${e.message}`));
});
