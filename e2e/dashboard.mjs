// Real-browser test of the dashboard, on a 1,366-px laptop screen: log in,
// see a lead appear without a reload, open it, see 13 steps, approve the
// draft from the keyboard, see the status change; form markup renders as
// text; a refresh keeps what is typed and where the focus is; the table fits
// beside the queue; every control is reachable with Tab; a failed lead shows
// under its step and is retried from the summary. Screenshots go to
// ../artifacts/.
//
// FORMLEAD_BIN: the formlead binary (default ../target/debug/formlead)
// CHROMIUM:     the browser (default /usr/bin/chromium)
// UPDATE_SCREENSHOT=1: also writes docs/images/dashboard.png (the README's)
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "..");
const bin = process.env.FORMLEAD_BIN || join(root, "target/debug/formlead");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const artifacts = join(root, "artifacts");
mkdirSync(artifacts, { recursive: true });
const TOKEN = "browser-test-token-0123456789";

function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

async function waitFor(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try { if ((await fetch(url)).ok) return; } catch {}
    if (Date.now() > end) throw new Error(`server at ${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function postLead(base, body) {
  const url = `${base}/api/webhooks/hubspot/forms`;
  const raw = JSON.stringify(body);
  const ts = String(Date.now());
  const sig = createHmac("sha256", "formlead-dev-secret").update("POST" + url + raw + ts).digest("base64");
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hubspot-signature-v3": sig, "x-hubspot-request-timestamp": ts },
    body: raw,
  });
  if (r.status !== 202) throw new Error(`webhook answered ${r.status}: ${await r.text()}`);
}

function check(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
  console.log(`ok - ${what}`);
}

// Waits for the dashboard's next 10-second refresh.
async function nextRefresh(page) {
  const stamp = await page.locator("#updated").textContent();
  await page.waitForFunction((s) => document.getElementById("updated").textContent !== s, stamp, { timeout: 15000 });
}

// Presses Tab until the focused element matches `selector`.
async function tabTo(page, selector, what) {
  for (let i = 0; i < 200; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
  }
  throw new Error(`FAILED: ${what} cannot be reached with Tab`);
}

// The page's visible controls, and those Tab reaches from the top: the
// controls no keyboard user can reach.
async function unreachableByTab(page) {
  const describe = () => {
    window.__describe = (el) => [el.tagName, el.getAttribute("data-action") || "", el.getAttribute("data-id") || "",
      el.getAttribute("href") || "", el.name || "", (el.textContent || "").trim().slice(0, 40)].join("|");
  };
  await page.evaluate(describe);
  const all = await page.evaluate(() => Array.from(document.querySelectorAll("a[href], button, input, select, textarea, summary"))
    .filter((el) => !el.disabled && el.getClientRects().length > 0)
    .map((el) => window.__describe(el)));
  await page.evaluate(() => document.activeElement?.blur());
  const reached = new Set();
  for (let i = 0; i < all.length + 10; i++) {
    await page.keyboard.press("Tab");
    await page.evaluate(describe);
    const d = await page.evaluate(() => (document.activeElement && document.activeElement !== document.body
      ? window.__describe(document.activeElement) : ""));
    if (d) reached.add(d);
  }
  return { count: all.length, missing: all.filter((d) => !reached.has(d)) };
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), "formlead-e2e-"));
const server = spawn(bin, ["serve"], {
  cwd: dir,
  env: { PATH: process.env.PATH, FORMLEAD_BIND: `127.0.0.1:${port}`, FORMLEAD_OPERATOR_TOKEN: TOKEN },
  stdio: ["ignore", "ignore", "inherit"],
});
let browser;
let failed = false;
try {
  await waitFor(`${base}/healthz`, 30000);
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // A 1,366 × 768 laptop screen.
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const dialogs = [];
  const RETRY_ALL = "Retry every failed workflow?";
  page.on("dialog", (d) => {
    if (d.type() === "confirm" && d.message() === RETRY_ALL) { d.accept(); return; }
    dialogs.push(d.message());
    d.dismiss();
  });

  await page.goto(`${base}/dashboard`);
  check(page.url().endsWith("/dashboard/login"), "an anonymous visitor is sent to the login page");
  await page.getByLabel("Your name").fill("Erin");
  await page.getByLabel("Operator token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/dashboard`);
  check(await page.getByText("No leads yet").isVisible(), "logged in; the empty state shows");

  await postLead(base, {
    formSubmissionId: `e2e-${Date.now()}`,
    email: "zoe.e2e@acme.example",
    firstname: "Zoë",
    lastname: "Ångström",
    company: "Acme <b>Robotics</b>",
    message: "We need a demo <img src=x onerror=alert(1)> next week",
  });
  // No reload: the 10-second refresh brings the lead in.
  const row = page.locator("table.workflows tbody tr", { hasText: "zoe.e2e@acme.example" });
  await row.waitFor({ timeout: 25000 });
  check(true, "the new lead appeared without a reload");

  // A reject reason being typed survives the 10-second refresh.
  const reason = page.locator('.queue form[data-action="reject"] input[name="reason"]').first();
  await reason.waitFor({ timeout: 25000 });
  await reason.click();
  await reason.fill("Wrong product line");
  await nextRefresh(page);
  check((await reason.inputValue()) === "Wrong product line", "a typed reject reason survives a refresh");
  check(await reason.evaluate((el) => el === document.activeElement), "and keeps the focus");
  await reason.fill("");
  // So does a keyboard user's place on a button.
  const approveInQueue = '.queue button[data-action="approve"]';
  await tabTo(page, approveInQueue, "the queue's Approve button");
  const focusedId = await page.evaluate(() => document.activeElement.getAttribute("data-id"));
  await nextRefresh(page);
  check(await page.evaluate(([sel, id]) => document.activeElement?.matches(sel) && document.activeElement.getAttribute("data-id") === id,
    [approveInQueue, focusedId]), "a button focused from the keyboard keeps the focus across a refresh");
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: join(artifacts, "dashboard-list.png"), fullPage: true });
  // The 24-hour chart (drawn when the page loads) shows the lead.
  await page.reload();
  check((await page.locator("figure.chart svg rect.bar").count()) >= 1, "the 24-hour chart renders with data");
  check((await page.locator("figure.chart figcaption").textContent()).includes("1 lead(s)"), "its caption counts the lead");
  // UPDATE_SCREENSHOT=1: also the README's picture of the dashboard.
  if (process.env.UPDATE_SCREENSHOT) {
    await page.screenshot({ path: join(root, "docs/images/dashboard.png"), fullPage: true });
  }

  await row.getByRole("link", { name: /Open/ }).click();
  await page.waitForURL(/\/dashboard\/workflows\//);
  check((await page.locator("ol.timeline li.step").count()) === 13, "the workflow page shows 13 steps");
  check((await page.locator("figure.durations svg rect").count()) === 13, "a bar shares the workflow's time out by step");
  const message = await page.locator("blockquote.message").textContent();
  check(message.includes("<img src=x onerror=alert(1)>"), "form markup renders as text");
  check((await page.locator("main img").count()) === 0, "no image element was injected");

  const wfTab = await unreachableByTab(page);
  check(wfTab.count >= 5 && wfTab.missing.length === 0,
    `on the workflow page Tab reaches all ${wfTab.count} controls (missing: ${JSON.stringify(wfTab.missing)})`);

  const badge = page.locator("section.draft h2 .badge");
  check((await badge.textContent()).trim() === "pending approval", "the draft waits for approval");
  // Approved from the keyboard alone.
  await tabTo(page, 'section.draft button[data-action="approve"]', "the draft's Approve button");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("section.draft h2 .badge")?.textContent.trim() === "approved", null, { timeout: 10000 });
  check(true, "after approving with the keyboard, the draft status changes to approved");
  check((await page.locator("table").last().textContent()).includes("operator:Erin"), "the audit trail names the operator");
  check(dialogs.length === 0, "no script from form content ran");
  await page.screenshot({ path: join(artifacts, "dashboard-workflow.png"), fullPage: true });

  // A lead that fails (its email is invalid), and one with a long address.
  await postLead(base, { formSubmissionId: `e2e-bad-${Date.now()}`, email: "not-an-email" });
  const longEmail = "alexandra.montgomery-whitfield@enterprise-solutions-group.example";
  await postLead(base, { formSubmissionId: `e2e-long-${Date.now()}`, email: longEmail, firstname: "Alexandra",
    company: "Enterprise Solutions Group International", message: "Could we see pricing for 400 seats?" });
  await postLead(base, { formSubmissionId: `e2e-third-${Date.now()}`, email: "sam.e2e@initech.example", firstname: "Sam",
    company: "Initech", message: "Do you integrate with our CRM?" });
  await page.goto(`${base}/dashboard`);
  const retryAll = page.getByRole("button", { name: "Retry all failed" });
  await retryAll.waitFor({ timeout: 25000 });
  await page.locator("table.workflows tbody tr", { hasText: longEmail }).locator(".badge.ok").waitFor({ timeout: 25000 });
  await page.locator("table.workflows tbody tr", { hasText: "sam.e2e@initech.example" }).locator(".badge.ok").waitFor({ timeout: 25000 });
  await page.reload();

  // The failure shows under its step.
  const failure = page.locator("section.failures tbody tr", { hasText: "1. validate submission" });
  check((await failure.locator("td").nth(1).textContent()).trim() === "1", "failures by step: the invalid lead is a dead letter of step 1");
  check((await failure.locator("td a").getAttribute("href")) === "/dashboard?status=failed&failed_step=validate_submission",
    "its dead letters link to the workflows that failed there");
  // The step leads to the workflows that failed there today: the invalid lead alone.
  await failure.locator("th a").click();
  await page.waitForURL(/failed_step=validate_submission/);
  const listed = await page.locator("table.workflows tbody tr").allTextContents();
  check(listed.length === 1 && listed[0].includes("not-an-email"), `a step's row lists the workflows that failed there (${listed.length})`);
  check((await page.locator(".filters .chip").textContent()).includes("1. validate submission"), "and the filter says so");
  await page.goto(`${base}/dashboard`);

  // The table fits beside the queue on a 1,366-px screen: nothing scrolls
  // sideways and its last column ends before the queue begins.
  const fit = await page.evaluate(() => {
    const scroll = document.querySelector(".cols .list .scroll");
    const last = document.querySelector("table.workflows thead th:last-child").getBoundingClientRect();
    const aside = document.querySelector(".cols aside");
    return {
      tableOverflow: scroll.scrollWidth - scroll.clientWidth,
      lastRight: last.right,
      asideLeft: aside.getBoundingClientRect().left,
      asideOverflow: aside.scrollWidth - aside.clientWidth,
      pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    };
  });
  await page.screenshot({ path: join(artifacts, "dashboard-1366.png"), fullPage: true });
  check(fit.tableOverflow <= 0 && fit.lastRight <= fit.asideLeft && fit.asideOverflow <= 0 && fit.pageOverflow <= 0,
    `at 1,366 px the workflow table fits beside the approval queue (${JSON.stringify(fit)})`);

  // Every control on the page is reachable with Tab.
  const tab = await unreachableByTab(page);
  check(tab.count >= 10 && tab.missing.length === 0, `Tab reaches all ${tab.count} controls (missing: ${JSON.stringify(tab.missing)})`);

  // Retried from the summary tile, from the keyboard.
  await page.evaluate(() => document.activeElement?.blur());
  await tabTo(page, 'button[data-action="retry-failed"]', "Retry all failed");
  await page.keyboard.press("Enter");
  await page.locator("#flash", { hasText: "Queued 1 for retry" }).waitFor({ timeout: 10000 });
  check(true, "retry all failed re-queued the failed lead, after a confirmation, from the keyboard");

  // Working through the queue from the keyboard: after Enter on Approve,
  // the focus is on the next draft's Approve; after the last, still in the
  // refreshed part of the page.
  const queueApprove = '.queue button[data-action="approve"]';
  await page.locator(queueApprove).nth(1).waitFor({ timeout: 15000 });
  await page.evaluate(() => document.activeElement?.blur());
  await tabTo(page, queueApprove, "the queue's first Approve");
  const first = await page.evaluate(() => document.activeElement.getAttribute("data-id"));
  await page.keyboard.press("Enter");
  await page.waitForFunction(([sel, id]) => document.activeElement?.matches(sel) && document.activeElement.getAttribute("data-id") !== id,
    [queueApprove, first], { timeout: 10000 });
  check(true, "after approving from the keyboard, the focus is on the next draft's Approve");
  await page.keyboard.press("Enter");
  await page.locator(".queue .empty").waitFor({ timeout: 10000 });
  await page.waitForFunction(() => document.getElementById("live").contains(document.activeElement), null, { timeout: 5000 });
  check(true, "after the last one, the focus stays in the refreshed part of the page");
  console.log(`screenshots in ${artifacts}`);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  if (browser) await browser.close();
  // The server's database lives in `dir`: remove it once the server is gone.
  if (server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15000))]);
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
