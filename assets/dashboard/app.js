// blogflow dashboard: polls the JSON API with ETags (an unchanged answer is a bodiless 304)
// and renders with textContent, so nothing a model or a feed wrote can run as markup. The one
// exception is a post's body, which the server renders to HTML and sanitizes (ammonia's
// allow-list: no script, handler, frame or style) before it is shown; the page's CSP blocks
// scripts and foreign images besides.
// The API token is exchanged once for an HttpOnly session cookie; control actions send the
// session's CSRF token in X-CSRF-Token.
"use strict";

const POLL_MS = 2000;
const CHART_MS = 15000;
const QUEUES = ["content-generation", "blog-publishing", "system-maintenance"];
const session = { csrf: null, canAct: false };
const view = { workflow: null, maxPosts: 20, openPost: null };
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
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// Fills a table body; each cell learns its column's name, which a phone shows above the value
// when the table becomes cards.
function fill(tbody, rows, empty) {
  const names = [...tbody.parentElement.tHead.rows[0].cells].map((th) => th.textContent.trim());
  for (const tr of rows) {
    [...tr.cells].forEach((td, i) => { if (names[i]) td.dataset.label = names[i]; });
  }
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 9, class: "muted" }, empty))]));
}

// --- time: every absolute time carries its zone ------------------------------------------------

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const STAMP = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short",
});
const toMs = (t) => (typeof t === "number" ? t : Date.parse(t));

function stamp(t) {
  const ms = toMs(t);
  return ms ? STAMP.format(new Date(ms)) : "–";
}

function relative(t) {
  const ms = toMs(t);
  if (!ms) return "";
  const s = Math.round((Date.now() - ms) / 1000);
  const a = Math.abs(s);
  const words = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  return s >= 0 ? `${words} ago` : `in ${words}`;
}

// "Dec 7, 21:30:05 UTC (3 min ago)" as a <time> element.
function when(t) {
  const ms = toMs(t);
  if (!ms) return "–";
  return el("time", { datetime: new Date(ms).toISOString() }, stamp(ms), el("span", { class: "muted" }, ` (${relative(ms)})`));
}

function duration(secs) {
  const d = Math.floor(secs / 86400), h = Math.floor((secs % 86400) / 3600), m = Math.floor((secs % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min ${Math.floor(secs % 60)} s`;
}

const usd = (x) => `$${(x || 0).toFixed(4)}`;
const words = (s) => String(s || "").replaceAll("_", " ");
const badge = (text, cls, attrs) => el("span", { class: `badge ${cls || ""}`, ...(attrs || {}) }, text);

// --- talking to the server ---------------------------------------------------------------------

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
  if (r.status === 401) { showLogin("Your session ended: log in again."); throw new Unauthorized(); }
  if (!r.ok) throw new Error(answer.error?.message || `HTTP ${r.status}`);
  return answer;
}

let toastTimer = null;
function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.className = bad ? "toast bad" : "toast";
  t.dataset.kind = bad ? "error" : "ok";
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, bad ? 15000 : 8000);
}

function notice(text) {
  const n = $("notice");
  n.textContent = text || "";
  n.hidden = !text;
}

// Runs an action: the button is disabled while it runs, the server's answer (its `message`)
// or its error is shown, and the page refreshes.
async function act(button, run) {
  if (button) button.disabled = true;
  try {
    const answer = await run();
    toast(answer?.message || "done");
    await refresh();
    return answer;
  } catch (e) {
    if (!(e instanceof Unauthorized)) toast(e.message, true);
    return null;
  } finally {
    if (button) button.disabled = false;
    applyEnabled();
  }
}

// Asks before a destructive action. Resolves to { note } when confirmed, null otherwise.
function confirmFirst(text, { note = false, verb = "Confirm" } = {}) {
  const d = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-note").value = "";
  $("confirm-note-label").hidden = !note;
  $("confirm-ok").textContent = verb;
  d.returnValue = "";
  d.showModal();
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok" ? { note: $("confirm-note").value.trim() } : null), { once: true });
  });
}

// --- header and controls -----------------------------------------------------------------------

const WORKFLOW_CLASS = { running: "ok", paused: "warn", stopping: "idle", stopped: "idle" };
const HEALTH_CLASS = { healthy: "ok", degraded: "warn", unhealthy: "bad" };

function renderStatus(workflow, health) {
  const w = $("workflow");
  w.textContent = workflow.state;
  w.className = `pill ${WORKFLOW_CLASS[workflow.state] || ""}`;
  w.dataset.state = workflow.state;
  const s = $("status");
  s.textContent = health.status;
  s.className = `pill ${HEALTH_CLASS[health.status] || "bad"}`;
  s.dataset.status = health.status;
  document.querySelector("header").className = workflow.state;
  $("uptime").textContent = `up ${duration(workflow.uptime_secs || 0)}`;
  view.workflow = workflow.state;
  view.maxPosts = workflow.max_posts_per_request || view.maxPosts;
  $("count").max = String(view.maxPosts);
  applyEnabled();
}

// Which control applies now: Start only when stopped, Stop when running or paused, Pause when
// running, Resume when paused, Generate when the count is valid.
function applyEnabled() {
  const state = view.workflow;
  const on = { start: state === "stopped", stop: state === "running" || state === "paused", pause: state === "running", resume: state === "paused" };
  for (const b of document.querySelectorAll("#controls [data-action]")) {
    if (b.dataset.action in on) b.disabled = !on[b.dataset.action];
  }
  const problem = countProblem();
  $("count-error").textContent = problem || "";
  $("generate").disabled = Boolean(problem);
}

function countProblem() {
  const raw = $("count").value.trim();
  const n = Number(raw);
  if (raw === "" || !Number.isInteger(n) || n < 1 || n > view.maxPosts) return `posts: a whole number from 1 to ${view.maxPosts}`;
  return null;
}

// --- rendering ---------------------------------------------------------------------------------

function renderQueues(workflow) {
  const rows = Object.entries(workflow.queues || {}).map(([name, q]) => {
    const c = q.counts;
    return el("tr", {}, el("td", {}, name), el("td", { class: "num" }, c.waiting), el("td", { class: "num" }, c.delayed),
      el("td", { class: "num" }, c.active), el("td", { class: "num" }, c.completed),
      el("td", { class: "num" }, c.failed ? badge(c.failed, "bad") : 0), el("td", {}, q.paused ? badge("paused", "warn") : ""));
  });
  fill($("queues").tBodies[0], rows, "no queues");
}

function renderFailed(lists) {
  const rows = lists.flatMap((l) => l.jobs.map((j) => el("tr", { "data-job": j.id, "data-queue": l.queue },
    el("td", { class: "actions" }, session.canAct ? [
      el("button", { type: "button", class: "retry", onclick: (e) => act(e.currentTarget, () => send("POST", `/api/jobs/${l.queue}/${encodeURIComponent(j.id)}/retry`)) }, "Retry"),
      el("button", { type: "button", class: "remove danger", onclick: async (e) => {
        const button = e.currentTarget;
        if (!(await confirmFirst(`Remove failed job ${j.name} (${j.id}) from ${l.queue}? Its record is deleted; nothing is retried.`, { verb: "Remove" }))) return;
        act(button, () => send("DELETE", `/api/jobs/${l.queue}/${encodeURIComponent(j.id)}`));
      } }, "Remove"),
    ] : ""),
    el("td", {}, j.name, el("br"), el("small", { class: "muted" }, `${l.queue} · ${j.id}`)),
    el("td", {}, j.last_error || ""),
    el("td", { class: "small" }, when(j.finished_at)))));
  fill($("failed").tBodies[0], rows, "no failed jobs");
}

// Jobs waiting for their next attempt: why the last one failed and when the next one runs.
function renderDelayed(lists) {
  const rows = lists.flatMap((l) => l.jobs.map((j) => el("tr", { "data-job": j.id },
    el("td", {}, j.name, el("br"), el("small", { class: "muted" }, `${l.queue} · ${j.id}`)),
    el("td", { class: "num" }, `${j.attempts_made}/${j.max_attempts}`),
    el("td", {}, j.last_error || el("span", { class: "muted" }, "scheduled start")),
    el("td", { class: "small" }, when(j.run_at)))));
  fill($("delayed").tBodies[0], rows, "nothing waits for a retry");
}

const SCHEDULE_CLASS = { active: "ok", paused: "warn", stopped: "idle" };

function renderSchedules(scheduler) {
  const rows = (scheduler.schedules || []).map((s) => el("tr", { "data-schedule": s.name, "data-state": s.state },
    el("td", { class: "name" }, s.name), el("td", {}, el("code", { class: "cron" }, s.cron)),
    el("td", {}, badge(s.state, SCHEDULE_CLASS[s.state])),
    el("td", { class: "small" }, s.state === "stopped" ? el("span", { class: "muted" }, "not while stopped") : when(s.next_run)),
    el("td", { class: "small" }, s.last_tick ? [when(s.last_tick), " ", s.last_outcome || ""] : "–")));
  fill($("schedules").tBodies[0], rows, "no schedules");
}

const PROVIDER_CLASS = { ok: "ok", degraded: "warn", failing: "bad", unchecked: "idle" };

function renderProviders(data) {
  const rows = (data.providers || []).map((p) => el("tr", { "data-provider": p.name, "data-status": p.status },
    el("td", {}, p.name, el("br"), el("small", { class: "muted" }, p.model)),
    el("td", {}, badge(p.status, PROVIDER_CLASS[p.status]), el("br"), el("small", { class: "summary" }, p.summary || "")),
    el("td", {}, words(p.breaker?.state || "–")),
    el("td", { class: "num" }, p.observed?.calls ?? 0),
    el("td", { class: "num" }, p.observed?.latency_ms ? `${Math.round(p.observed.latency_ms)} ms` : "–"),
    el("td", { class: "num" }, usd(p.cost_usd))));
  fill($("providers").tBodies[0], rows, "no provider configured");
  $("providers-note").textContent = data.message || "";
}

// Publishing targets with what waits for them ("12 posts waiting since …").
function renderTargets(health) {
  const rows = (health.checks?.targets || []).map((t) => el("tr", { "data-target": t.name, "data-status": t.status },
    el("td", {}, t.name),
    el("td", { title: t.message || "" }, badge(t.status, t.status === "ok" ? "ok" : "bad")),
    el("td", {}, t.waiting_posts
      ? [badge(`${t.waiting_posts} post${t.waiting_posts === 1 ? "" : "s"}`, "warn"), " since ", when(t.waiting_since)]
      : "–")));
  fill($("targets").tBodies[0], rows, "no publishing target");
}

function renderWorkers(data) {
  const rows = (data.workers || []).map((w) => el("tr", { "data-status": w.status },
    el("td", {}, w.role), el("td", {}, w.host), el("td", { class: "num" }, w.pid),
    el("td", {}, badge(w.status, w.status === "alive" ? "ok" : "bad")),
    el("td", { class: "num", title: w.in_flight.map((j) => `${j.queue}/${j.job_id}`).join("\n") }, w.in_flight.length),
    el("td", { class: "small" }, when(w.beat_at))));
  fill($("workers").tBodies[0], rows, "no heartbeat yet");
}

const POST_CLASS = { published: "ok", ready: "info", held: "warn", rejected: "bad" };

// Approve or reject a held post (reject asks first); `note` is the reviewer's.
async function review(post, decision, button, note) {
  if (decision === "reject") {
    const answer = await confirmFirst(`Reject "${post.title}"? It will never be published.`, { note: note === undefined, verb: "Reject" });
    if (!answer) return;
    note = note ?? answer.note;
  }
  const done = await act(button, () => send("POST", `/api/posts/${encodeURIComponent(post.id)}/${decision}`, note ? { note } : {}));
  if (done && view.openPost === post.id) showPost(post.id);
}

function renderPosts(data) {
  const rows = (data.posts || []).map((p) => el("tr", { "data-post": p.id, "data-status": p.status },
    el("td", { class: "actions" },
      el("button", { type: "button", class: "open", onclick: () => showPost(p.id) }, "Open"),
      session.canAct && p.status === "held" ? [
        el("button", { type: "button", class: "approve primary", onclick: (e) => review(p, "approve", e.currentTarget) }, "Approve"),
        el("button", { type: "button", class: "reject danger", onclick: (e) => review(p, "reject", e.currentTarget) }, "Reject"),
      ] : null),
    el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); showPost(p.id); } }, p.title)),
    el("td", {}, badge(p.status, POST_CLASS[p.status])),
    el("td", { class: "num" }, p.quality_score), el("td", { class: "num" }, usd(p.cost_usd)),
    el("td", { class: "small" }, when(p.created_at))));
  fill($("posts").tBodies[0], rows, "no posts yet");
}

// The review pane: everything needed to judge a post without leaving the page.
async function showPost(id) {
  let d;
  try {
    d = await get(`/api/posts/${encodeURIComponent(id)}`);
  } catch (e) {
    if (!(e instanceof Unauthorized)) toast(e.message, true);
    return;
  }
  view.openPost = id;
  const post = d.post;
  const box = $("post-detail");
  const threshold = d.quality_threshold;
  const score = post.quality?.score ?? 0;
  const parts = (post.quality?.parts || []).map((part) => {
    const ratio = part.max ? part.points / part.max : 0;
    const cls = ratio >= 0.8 ? "" : ratio >= 0.5 ? " weak" : " poor";
    return [
      el("span", {}, words(part.name)),
      el("span", { class: `bar${cls}` }, el("i", { style: `width:${Math.round(100 * ratio)}%` })),
      el("span", { class: "num" }, `${Math.round(part.points)}/${Math.round(part.max)}`),
      part.note ? el("span", { class: "note" }, part.note) : null,
    ];
  });
  const reason = [];
  if (post.status === "held" || post.status === "rejected") {
    const why = post.hold_reason || (score < threshold ? `score ${score} is below the threshold of ${threshold}` : "waiting for review");
    reason.push(el("div", { id: "post-reason", class: `reason ${post.status}` },
      el("strong", {}, post.status === "rejected" ? "Rejected. " : "Held: "), why,
      d.duplicate ? el("span", { id: "post-duplicate" }, " · repeats ",
        el("a", { href: "#", onclick: (e) => { e.preventDefault(); showPost(d.duplicate.id); } }, d.duplicate.title)) : null,
      post.review && post.review.state !== "pending"
        ? el("div", { class: "small" }, `${post.review.state} ${stamp(post.review.decided_at)}${post.review.note ? `: ${post.review.note}` : ""}`) : null));
  }
  const actions = session.canAct && post.status === "held" ? el("div", { class: "review" },
    el("textarea", { id: "review-note", maxlength: 500, placeholder: "note for the record (optional)" }),
    el("button", { type: "button", id: "approve", class: "primary", onclick: (e) => review({ id, title: post.title }, "approve", e.currentTarget, $("review-note").value.trim()) }, "Approve and publish"),
    el("button", { type: "button", id: "reject", class: "danger", onclick: (e) => review({ id, title: post.title }, "reject", e.currentTarget, $("review-note").value.trim()) }, "Reject")) : null;
  const body = el("article", { class: "post-body", lang: post.language || null });
  body.innerHTML = d.body_html; // sanitized by the server (see the top of this file)
  box.replaceChildren(
    el("div", { class: "buttons" }, el("button", { type: "button", onclick: () => { box.hidden = true; view.openPost = null; } }, "Close")),
    el("h3", { lang: post.language || null }, post.title),
    el("div", { class: "meta" },
      badge(post.status, POST_CLASS[post.status], { id: "post-status" }),
      el("span", {}, `${post.language} · ${post.category}`), el("span", { lang: post.language || null }, `topic: ${post.topic}`),
      el("span", {}, `${post.provider} · ${post.model} · ${(post.generation_ms / 1000).toFixed(1)} s · ${post.attempts} attempt(s) · ${usd(post.cost_usd)}`),
      el("span", {}, stamp(post.created_at))),
    d.card_url ? el("img", { id: "post-card", class: "card-image", src: d.card_url, alt: `feature image of "${post.title}"`, width: 1200, height: 630 }) : null,
    ...reason,
    actions,
    el("p", { lang: post.language || null, class: "summary" }, post.summary),
    el("div", { class: "tags" }, (post.tags || []).map((t) => badge(t, "", { lang: post.language || null }))),
    el("h3", {}, "Quality ", el("span", { id: "post-score", class: `badge ${score >= threshold ? "ok" : "warn"}` }, `${score}/100`),
      el("span", { id: "post-threshold", class: "muted" }, ` · publishes from ${threshold}`)),
    el("div", { class: "bars" }, parts.flat()),
    ...provenance(post),
    el("h3", {}, "Published to"),
    el("ul", { class: "list" }, (d.publications || []).length
      ? d.publications.map((p) => el("li", {}, `${p.target} (${p.state}): ${p.location}`))
      : [el("li", { class: "muted" }, d.publishing ? `${d.publishing.state}${d.publishing.last_error ? `: ${d.publishing.last_error}` : ""}` : "nowhere")]),
    el("h3", {}, "Body"),
    body,
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
      el("ul", { class: "list", id: "post-claims" }, claims.map((c) => el("li", {}, badge(c.kind, "warn"), " ", c.text))));
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

const SEVERITY_CLASS = { critical: "bad", warning: "warn", info: "info" };

function renderAlerts(health) {
  const active = health.alerts?.active || [];
  $("alerts").replaceChildren(...(active.length ? active.map((a) => el("li", { "data-severity": a.severity, "data-key": a.key },
    badge(a.severity, SEVERITY_CLASS[a.severity]), " ", el("strong", {}, a.title || words(a.key)),
    el("div", {}, a.message || ""), el("div", { class: "when" }, "since ", when(a.at))))
    : [el("li", { class: "muted" }, "nothing needs attention")]));
  const history = health.alerts?.recent || [];
  $("alert-history").replaceChildren(...(history.length ? history.map((a) => el("li", { class: a.status, "data-severity": a.severity },
    el("span", { class: "when" }, stamp(a.at)),
    a.status === "resolved" ? badge("resolved", "ok") : badge(a.severity, SEVERITY_CLASS[a.severity]), " ",
    el("strong", {}, a.title || words(a.key)), " – ", a.message || "")) : [el("li", { class: "muted" }, "no alert sent yet")]));
  const actions = health.recovery_actions || [];
  $("recoveries").replaceChildren(...(actions.length ? actions.map((r) => el("li", {},
    el("span", { class: "when" }, stamp(r.at)),
    el("strong", {}, words(r.action)), ` after the ${words(r.check)} check failed: `, r.outcome || ""))
    : [el("li", { class: "muted" }, "none taken")]));
}

function renderCosts(c) {
  const days = (c.days || []).slice(-7).map((d) => el("li", {}, `${d.day}: ${d.posts} posts, ${usd(d.cost_usd)}`));
  $("costs").replaceChildren(
    el("p", {}, `today ${c.today?.posts ?? 0} posts, ${usd(c.today?.cost_usd)}; total ${usd(c.total_cost_usd)}`,
      c.daily_budget_usd ? ` · budget ${usd(c.daily_budget_usd)}/day` : "", c.stopped ? ` · stopped: ${c.stopped}` : ""),
    el("ul", { class: "list" }, days));
}

// --- charts ------------------------------------------------------------------------------------

const charts = new Map();
const unit = (u) => (self, ticks) => ticks.map((v) => (v == null ? "" : `${+v.toFixed(2)}${u}`));
// Title, then series: [label, value of a sample, scale]; then axes per scale: [scale, unit, side].
const CHARTS = [
  ["CPU", [["machine (% of all cores)", (s) => s.cpu_system_pct, "pct"], ["service (% of one core)", (s) => s.cpu_process_pct, "pct"]], [["pct", " %", 3]]],
  ["Memory", [["service (MiB)", (s) => s.memory_process_mib, "mib"], ["machine (% in use)", (s) => s.memory_system_pct, "pct"]], [["mib", " MiB", 3], ["pct", " %", 1]]],
  ["Latency, p95", [["API (s)", (s) => s.api_p95_secs, "s"], ["LLM call (s)", (s) => s.llm_p95_secs, "s"]], [["s", " s", 3]]],
  ["Throughput", [["jobs per minute", (s) => s.jobs_per_min, "rate"], ["posts written per sample", (s) => s.posts, "count"]], [["rate", "/min", 3], ["count", "", 1]]],
  ["Errors", [["LLM calls failed (%)", (s) => s.llm_error_pct, "pct"], ["operations failed (%)", (s) => s.error_rate_pct, "pct"]], [["pct", " %", 3]]],
];
const COLORS = ["#2b6cb0", "#b7791f"];
const PCT_RANGE = { range: (u, min, max) => [0, Math.max(100, max || 0)] };

// The window the x axis shows, in seconds: the whole chosen window ending now, so that a
// single sample is drawn at its time instead of on an axis uPlot stretches over years.
const WINDOW_SECS = { hour: 3600, day: 86400, month: 31 * 86400 };
const xRange = () => {
  const now = Date.now() / 1000;
  return [now - (WINDOW_SECS[$("window").value] || 3600), now];
};

function chartWidth() {
  return Math.max(240, $("charts").clientWidth - 4);
}

async function renderCharts() {
  if (typeof uPlot === "undefined") return;
  const h = await get(`/api/metrics/history?window=${$("window").value}`);
  const samples = h.samples || [];
  const box = $("charts");
  for (const [title, series, axes] of CHARTS) {
    const data = [samples.map((s) => s.ts / 1000), ...series.map(([, f]) => samples.map((s) => f(s) ?? null))];
    let chart = charts.get(title);
    if (!chart) {
      const holder = el("div", { class: "chart", "data-chart": title }, el("h4", {}, `${title} (times in ${ZONE})`));
      box.append(holder);
      const scales = { x: { time: true, auto: false } };
      for (const [scale] of axes) scales[scale] = scale === "pct" ? PCT_RANGE : {};
      chart = new uPlot({
        width: chartWidth(), height: 180,
        legend: { live: false },
        series: [{}, ...series.map(([label, , scale], i) => ({ label, scale, stroke: COLORS[i], width: 1.5, spanGaps: false }))],
        scales,
        axes: [{}, ...axes.map(([scale, u, side], i) => ({ scale, side, values: unit(u), size: 72, grid: { show: i === 0 } }))],
      }, data, holder);
      charts.set(title, chart);
    } else {
      chart.setData(data);
    }
    const [min, max] = xRange();
    chart.setScale("x", { min, max });
  }
}

function resizeCharts() {
  const width = chartWidth();
  for (const chart of charts.values()) chart.setSize({ width, height: 180 });
}

// --- loop --------------------------------------------------------------------------------------

async function refresh() {
  try {
    const [workflow, scheduler, providers, posts, health, costs, workers, ...lists] = await Promise.all([
      get("/api/automation/workflow"), get("/api/automation/scheduler"), get("/api/providers"),
      get("/api/posts?limit=15"), get("/api/automation/health"), get("/api/costs"), get("/api/workers"),
      ...QUEUES.map((q) => get(`/api/jobs?queue=${q}&state=failed&limit=10`)),
      ...QUEUES.map((q) => get(`/api/jobs?queue=${q}&state=delayed&limit=10`)),
    ]);
    renderStatus(workflow, health);
    renderQueues(workflow);
    renderFailed(lists.slice(0, QUEUES.length));
    renderDelayed(lists.slice(QUEUES.length));
    renderSchedules(scheduler);
    renderProviders(providers);
    renderTargets(health);
    renderWorkers(workers);
    renderPosts(posts);
    renderAlerts(health);
    renderCosts(costs);
    $("conn").textContent = `updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`;
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin("Your session ended: log in again.");
    $("conn").textContent = `cannot reach blogflow: ${e.message}`;
  }
}

function startLoop() {
  $("login").hidden = true;
  $("main").hidden = false;
  $("controls").hidden = !session.canAct;
  $("menu").hidden = !session.canAct;
  $("logout").hidden = !session.canAct;
  refresh();
  renderCharts().catch(() => {});
  clearInterval(timer);
  clearInterval(chartTimer);
  timer = setInterval(refresh, POLL_MS);
  chartTimer = setInterval(() => renderCharts().catch(() => {}), CHART_MS);
}

function showLogin(why) {
  clearInterval(timer);
  clearInterval(chartTimer);
  cache.clear();
  session.canAct = false;
  $("main").hidden = true;
  $("controls").hidden = true;
  $("menu").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = why || "";
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

// On a narrow screen the controls fold behind a button; Log out stays in the header.
function setupMenu() {
  const menu = $("menu"), controls = $("controls");
  const narrow = window.matchMedia("(max-width: 700px)");
  const fold = () => {
    controls.classList.toggle("folded", narrow.matches && menu.getAttribute("aria-expanded") !== "true");
  };
  menu.addEventListener("click", () => {
    menu.setAttribute("aria-expanded", menu.getAttribute("aria-expanded") === "true" ? "false" : "true");
    fold();
  });
  narrow.addEventListener("change", fold);
  fold();
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
    b.addEventListener("click", async () => {
      const action = b.dataset.action;
      if (action === "generate_content" && countProblem()) { applyEnabled(); return; }
      if (b.dataset.confirm && !(await confirmFirst(b.dataset.confirm, { verb: b.textContent }))) return;
      const body = action === "generate_content" ? { action, count: Number($("count").value) } : { action };
      act(b, () => send("POST", "/api/automation/workflow", body));
    });
  }
  $("count").addEventListener("input", applyEnabled);
  $("logout").addEventListener("click", () => send("DELETE", "/api/session")
    .then(() => { session.canAct = false; session.csrf = null; location.reload(); })
    .catch((e) => { if (!(e instanceof Unauthorized)) toast(e.message, true); }));
  $("window").addEventListener("change", () => renderCharts().catch(() => {}));
  window.addEventListener("resize", resizeCharts);
  setupMenu();
  boot().catch((e) => notice(`cannot reach blogflow: ${e.message}`));
});
