// Drives the dashboard in Debian's headless Chromium for tests/dashboard.rs.
// Usage: node dashboard.mjs <base url> <token> <screenshot path>
// Talks to the Rust test over stdio: prints "POST_SEEN" once a generated post is listed, then
// waits for a line on stdin (the test has made the fake provider fail), waits for the provider
// row to turn red, saves the screenshot and prints "DONE". Any failure exits non-zero with a
// reason.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const [base, token, shot] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (why) => { console.error(why); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
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
  // The provider is healthy first.
  await page.locator('#providers tr[data-status="ok"]').first().waitFor({ timeout: 30000 });
  // This process lists itself from its heartbeat.
  await page.locator('#workers tr[data-status="alive"]').filter({ hasText: "all" }).first().waitFor({ timeout: 30000 });
  await page.fill("#count", "1");
  await page.click("#generate");
  await page.locator('#posts tr[data-post]').first().waitFor({ timeout: 60000 });
  await page.locator('#posts tr[data-status="published"]').first().waitFor({ timeout: 60000 });
  const html = await page.content();
  if (html.includes(token)) await fail("the token is in the page");
  console.log("POST_SEEN");
  await lines.next();
  await page.locator('#providers tr[data-status="bad"]').first().waitFor({ timeout: 60000 });
  await page.locator("#post-detail").isHidden();
  await page.locator('#posts tr[data-post] a').first().click();
  await page.locator("#post-detail .bars span").first().waitFor();
  // A keyword post read no source, and the review pane says so.
  await page.locator("#post-detail").filter({ hasText: "not grounded" }).waitFor({ timeout: 10000 });
  await page.screenshot({ path: shot, fullPage: true });
  if (errors.length) await fail(`errors in the page: ${errors.join("; ")}`);
  console.log("DONE");
} catch (e) {
  await fail(String(e?.stack || e));
}
await browser.close();
process.exit(0); // stdin stays open otherwise
