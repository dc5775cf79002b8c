// Drives the dashboard in Debian's headless Chromium for tests/dashboard.rs, as an operator
// would: at 1400×900 and at 390×844, with an English and a Korean post.
// Usage: node dashboard.mjs <base url> <token> <screenshot folder>
// Talks to the Rust test over stdio: prints "NEED <what>" when the fake provider must change
// ("korean", "english", "broken", "chat-500") and "CHECK <what> <arg>" when the test should
// look at the API; both wait for a line on stdin. Prints "DONE" at the end. Any failure exits
// non-zero with a reason.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { join } from "node:path";

const [base, token, shots] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (why) => { console.error(why); await browser.close(); process.exit(1); };
const ask = async (line) => { console.log(line); const r = await lines.next(); if (r.done || r.value.trim() !== "OK") await fail(`the test answered ${JSON.stringify(r.value)} to ${line}`); };
const WIDE = { width: 1400, height: 900 };
const PHONE = { width: 390, height: 844 };

try {
  const page = await browser.newPage({ viewport: WIDE });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  const sent = [];
  page.on("request", (r) => { if (r.method() !== "GET") sent.push(`${r.method()} ${new URL(r.url()).pathname} ${r.postData() || ""}`); });
  const toast = async (...words) => {
    const t = page.locator("#toast");
    for (const w of words) await t.filter({ hasText: w }).waitFor({ timeout: 30000 });
    return t.textContent();
  };
  const row = (text) => page.locator("#posts tr[data-post]").filter({ hasText: text });

  await page.goto(base + "/");
  // A token is configured and reads are private: the login form comes first.
  await page.locator("#login").waitFor({ state: "visible" });
  if (await page.locator("#main").isVisible()) await fail("data shown before login");
  await page.fill("#token", "wrong-token-0123456789");
  await page.click("#login-form button");
  await page.locator("#login-error").filter({ hasText: "invalid" }).waitFor();
  await page.fill("#token", token);
  await page.click("#login-form button");
  await page.locator("#main").waitFor({ state: "visible" });
  errors.length = 0; // the refused login above logs its 401; from here on nothing may fail
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "blogflow_session");
  if (!session || !session.httpOnly || session.sameSite !== "Strict") await fail(`session cookie: ${JSON.stringify(session)}`);
  if (await page.evaluate(() => document.cookie.includes("blogflow_session"))) await fail("the script can read the session cookie");
  await page.locator('#providers tr[data-status="ok"]').first().waitFor({ timeout: 30000 });
  await page.locator('#workers tr[data-status="alive"]').filter({ hasText: "all" }).first().waitFor({ timeout: 30000 });
  await page.locator('#workflow[data-state="running"]').waitFor();

  // --- A. generate: the count is checked before anything is sent ----------------------------
  await page.fill("#count", "0");
  await page.locator("#count-error").filter({ hasText: "from 1 to" }).waitFor();
  if (!(await page.locator("#generate").isDisabled())) await fail("Generate enabled with a count of 0");
  await page.fill("#count", "1");
  if (await page.locator("#generate").isDisabled()) await fail("Generate disabled with a count of 1");
  if (sent.some((s) => s.includes("/workflow"))) await fail(`a request left with a bad count: ${sent}`);
  await page.click("#generate");
  await toast("queued 1 post(s)");
  await page.locator('#posts tr[data-status="held"]').filter({ hasText: "How AI Agents" }).waitFor({ timeout: 60000 });
  await ask("NEED korean");
  await page.click("#generate");
  await toast("queued 1 post(s)");
  await row("에이전트").first().waitFor({ timeout: 60000 });
  await ask("NEED english");

  // The review pane: the body rendered, summary, tags, score against the threshold, why held.
  await row("How AI Agents").locator("button.open").click();
  await page.locator("#post-detail .post-body h2").first().waitFor();
  const pane = page.locator("#post-detail");
  for (const part of ["A look at what changed", "agents", "publishes from", "awaiting review", "Sources"]) {
    await pane.filter({ hasText: part }).waitFor({ timeout: 5000 });
  }
  if ((await pane.locator(".post-body script").count()) > 0) await fail("a script in the rendered body");
  await page.screenshot({ path: join(shots, "dashboard-1400-en.png"), fullPage: true });
  await row("에이전트").locator("button.open").click();
  await pane.locator("h3").filter({ hasText: "에이전트" }).waitFor();
  const breaking = await page.evaluate(() => getComputedStyle(document.querySelector("#post-detail .post-body")).wordBreak);
  if (breaking !== "keep-all") await fail(`Korean text breaks inside words: word-break is ${breaking}`);
  // Its social card, drawn by the server: a real 1200×630 image.
  await page.waitForFunction(() => { const i = document.querySelector("#post-card"); return i && i.complete && i.naturalWidth === 1200 && i.naturalHeight === 630; }, null, { timeout: 10000 });
  await page.screenshot({ path: join(shots, "dashboard-1400-ko.png"), fullPage: true });

  // --- B. a job that fails for good ----------------------------------------------------------
  await ask("NEED broken");
  await page.click("#generate");
  await page.locator("#failed tr[data-job]").first().waitFor({ timeout: 60000 });
  await ask("NEED english");

  // --- C. both widths: nothing wider than the screen, every action reachable ---------------
  const within = async (locator, what, width) => {
    const n = await locator.count();
    if (!n) await fail(`no ${what} to check`);
    for (let i = 0; i < n; i++) {
      const box = await locator.nth(i).boundingBox();
      if (!box || box.x < 0 || box.x + box.width > width + 0.5) await fail(`${what} #${i} is off-screen at ${width} px: ${JSON.stringify(box)}`);
    }
  };
  const overflow = async (when, width) => {
    const w = await page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
    if (w > width) await fail(`the page is ${w} px wide at ${width} (${when})`);
  };
  const rowActions = async (width) => {
    await within(page.locator("#logout"), "Log out", width);
    await within(page.locator("#posts td.actions button"), "post action", width);
    await within(page.locator("#failed td.actions button"), "failed-job action", width);
  };
  await overflow("with a Korean post open", WIDE.width);
  await rowActions(WIDE.width);
  await within(page.locator("#controls button"), "header control", WIDE.width);
  await page.setViewportSize(PHONE);
  await page.locator("#menu").waitFor({ state: "visible" });
  await overflow("on load", PHONE.width);
  if (await page.locator("#controls").isVisible()) await fail("the controls are not folded at phone width");
  await rowActions(PHONE.width);
  await page.click("#menu");
  await within(page.locator("#controls button"), "header control", PHONE.width);
  await page.click("#menu");
  await row("에이전트").locator("button.open").click();
  await pane.locator("h3").filter({ hasText: "에이전트" }).waitFor();
  await overflow("with a Korean post open", PHONE.width);
  // Where each wrapped line of a Korean text starts: always after a space, never mid-word.
  for (const selector of ['#posts tr[data-post] a', "#post-detail h3", "#post-detail .post-body p"]) {
    const splits = await page.evaluate((sel) => {
      const out = [];
      for (const node of document.querySelectorAll(sel)) {
        const text = node.firstChild;
        if (!text || text.nodeType !== 3 || !/[\uac00-\ud7a3]/.test(text.data)) continue;
        const range = document.createRange();
        let top = null;
        for (let i = 0; i < text.data.length; i++) {
          range.setStart(text, i);
          range.setEnd(text, i + 1);
          const r = range.getClientRects()[0];
          if (!r) continue;
          if (top !== null && r.top > top + 2 && i > 0 && text.data[i - 1] !== " " && text.data[i] !== " ") {
            out.push(text.data.slice(Math.max(0, i - 4), i) + "/" + text.data.slice(i, i + 4));
          }
          top = r.top;
        }
      }
      return out;
    }, selector);
    if (splits.length) await fail(`Korean broken inside words in ${selector}: ${splits.join(", ")}`);
  }
  await page.screenshot({ path: join(shots, "dashboard-390-ko.png"), fullPage: true });
  await row("How AI Agents").locator("button.open").click();
  await pane.locator("h3").filter({ hasText: "How AI Agents" }).waitFor();
  await overflow("with an English post open", PHONE.width);
  await page.screenshot({ path: join(shots, "dashboard-390-en.png"), fullPage: true });
  await page.setViewportSize(WIDE);

  // --- D. review and job actions, each showing the server's answer --------------------------
  const english = row("How AI Agents");
  await english.locator("button.approve").click();
  await toast("approved", "publishing is queued");
  await page.locator('#posts tr[data-status="published"]').filter({ hasText: "How AI Agents" }).waitFor({ timeout: 60000 });
  await row("에이전트").locator("button.open").click();
  await page.locator("#reject").click();
  await page.locator("#confirm[open]").waitFor();
  await page.click("#confirm-cancel");
  await page.locator("#confirm[open]").waitFor({ state: "detached" }).catch(() => {});
  if (await page.locator("#confirm").evaluate((d) => d.open)) await fail("the dialog stayed open after Cancel");
  if (sent.some((s) => s.includes("/reject"))) await fail("Reject was sent without a confirmation");
  await page.fill("#review-note", "wrong angle for this blog");
  await page.locator("#reject").click();
  await page.locator("#confirm[open]").waitFor();
  await page.click("#confirm-ok");
  await toast("rejected", "never be published");
  const korean = row("에이전트");
  await page.locator('#posts tr[data-status="rejected"]').filter({ hasText: "에이전트" }).waitFor();
  if ((await korean.locator("button.approve, button.reject").count()) > 0) await fail("a rejected post still has review buttons");
  await pane.locator("#post-reason").filter({ hasText: "wrong angle" }).waitFor();
  await ask(`CHECK rejected ${await korean.getAttribute("data-post")}`);

  const failed = page.locator("#failed tr[data-job]").first();
  const retried = await failed.getAttribute("data-job");
  await failed.locator("button.retry").click();
  await toast("waiting again");
  await page.locator(`#failed tr[data-job="${retried}"]`).waitFor({ state: "detached", timeout: 60000 });
  await ask("NEED broken");
  await page.click("#generate");
  const doomed = page.locator("#failed tr[data-job]").first();
  await doomed.waitFor({ timeout: 60000 });
  await ask("NEED english");
  const doomedId = await doomed.getAttribute("data-job");
  await doomed.locator("button.remove").click();
  await page.locator("#confirm[open]").waitFor();
  await page.click("#confirm-cancel");
  if (sent.some((s) => s.startsWith("DELETE /api/jobs"))) await fail("Remove was sent without a confirmation");
  await doomed.locator("button.remove").click();
  await page.click("#confirm-ok");
  await toast("removed");
  await page.locator(`#failed tr[data-job="${doomedId}"]`).waitFor({ state: "detached" });

  // --- E. workflow controls: enabled where they apply, Stop asks first ------------------------
  const control = (a) => page.locator(`#controls [data-action="${a}"]`);
  if (!(await control("start").isDisabled()) || !(await control("resume").isDisabled())) await fail("Start/Resume enabled while running");
  await control("stop").click();
  await page.locator("#confirm[open]").waitFor();
  await page.click("#confirm-cancel");
  if (sent.some((s) => s.includes('"stop"'))) await fail("Stop was sent without a confirmation");
  await page.locator('#workflow[data-state="running"]').waitFor();
  await control("stop").click();
  await page.click("#confirm-ok");
  await toast("stopped");
  await page.locator('#workflow[data-state="stopped"]').waitFor();
  await page.locator("header.stopped").waitFor();
  await page.locator('#schedules tr[data-state="stopped"]').filter({ hasText: "not while stopped" }).first().waitFor();
  if (await control("start").isDisabled() || !(await control("stop").isDisabled()) || !(await control("pause").isDisabled())) await fail("controls while stopped");
  await control("start").click();
  await toast("started");
  await page.locator('#workflow[data-state="running"]').waitFor();
  await control("pause").click();
  await toast("paused");
  await page.locator('#workflow[data-state="paused"]').waitFor();
  await page.locator("header.paused").waitFor();
  await control("resume").click();
  await toast("resumed");
  await page.locator('#workflow[data-state="running"]').waitFor();

  // --- F. a provider whose every chat call fails while its probe passes ----------------------
  await ask("NEED chat-500");
  await page.click("#generate");
  await page.locator('#providers tr[data-status="failing"]').filter({ hasText: "calls" }).waitFor({ timeout: 60000 });
  await page.locator('#status:not([data-status="healthy"])').waitFor();
  await page.locator('#alerts li[data-severity]').first().waitFor({ timeout: 60000 });
  await page.locator('#charts [data-chart="Errors"]').waitFor({ timeout: 30000 });
  const zone = await page.locator("#schedules time").first().textContent();
  if (!/UTC|GMT|[A-Z]{2,5}/.test(zone)) await fail(`a time without its zone: ${zone}`);
  await page.screenshot({ path: join(shots, "dashboard.png"), fullPage: true });
  const html = await page.content();
  if (html.includes(token)) await fail("the token is in the page");
  if (errors.length) await fail(`errors in the page: ${errors.join("; ")}`);
  console.log("DONE");
} catch (e) {
  await fail(String(e?.stack || e));
}
await browser.close();
process.exit(0); // stdin stays open otherwise
