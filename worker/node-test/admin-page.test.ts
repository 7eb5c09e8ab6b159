// The loop end to end in `wrangler dev` on 127.0.0.1 (the fixture model, local D1 and R2), then
// the page's admin view in Debian's Chromium (puppeteer-core): a list served, its events posted,
// and /#admin showing them per arm and model, with a chart line, the admin token typed into the
// view's own field and kept out of the browser's storage. Needs `chromium` (or
// CHROMIUM_PATH); without it the test fails with that message, it is never skipped.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { localTarget } from "../../training/src/publish/targets.ts";
import { migrateLocalD1 } from "../../training/src/serve/local-setup.ts";
import { type DevServer, freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { fixtureBundleDir } from "../test/global-setup.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TOKEN = "admin-page-token";

let server: DevServer;
let browser: Browser;

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...init.headers } });

describe("the admin view of the loop", () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`the admin page test needs Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH`);
    const state = mkdtempSync(join(tmpdir(), "edgerec-admin-state-"));
    const target = await localTarget("MODELS", state);
    try {
      await publishBundle(readBundle(await fixtureBundleDir("fixture-admin", 3)), target, { force: true });
    } finally {
      await target.close();
    }
    await migrateLocalD1("DB", state);
    server = await startWranglerDev(await freePort(), { quiet: true, persistTo: state, inspectorPort: await freePort(), vars: { API_TOKEN: TOKEN } });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("serves a list, takes its events, and shows them at /#admin with a chart line", async () => {
    const recs = (await (await api("/users/1/recs?k=3")).json()) as { recId: string; arm: string; model: string; recommendations: { movieId: number }[] };
    expect(recs.arm).toBe("default");
    const now = Math.floor(Date.now() / 1000);
    const events = recs.recommendations.map((r, i) => ({ id: `adm-${i}`, userId: 1, movieId: r.movieId, type: "impression", recId: recs.recId, ts: now }));
    events.push({ id: "adm-click", userId: 1, movieId: recs.recommendations[0].movieId, type: "click", recId: recs.recId, ts: now });
    const posted = await api("/events", { method: "POST", body: JSON.stringify({ events }) });
    expect(await posted.json()).toEqual({ received: 4, stored: 4, duplicates: 0 });

    // the served list is written after the answer: wait until the metrics count it
    let arms: { lists: number; impressions: number; clicks: number; ctr: number }[] = [];
    for (let i = 0; i < 50 && !(arms[0]?.lists === 1); i++) {
      arms = ((await (await api("/admin/metrics")).json()) as { arms: typeof arms }).arms;
      if (arms[0]?.lists !== 1) await new Promise((r) => setTimeout(r, 100));
    }
    expect(arms).toEqual([expect.objectContaining({ arm: "default", model: recs.model, lists: 1, impressions: 3, clicks: 1, ctr: 1 / 3 })]);

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.url}/#admin`);
    // the admin token goes into the view's own field (the sign-in dialog takes user tokens only)
    await page.waitForSelector("#admin:not([hidden]) #admin-token");
    await page.type("#admin-token", TOKEN);
    await page.click("#admin-form button[type=submit]");
    await page.waitForSelector("#admin:not([hidden]) #admin-rows tr");
    expect(await page.$("#token-dialog[open]")).toBeNull();
    // held in memory only: neither storage holds it, under any key
    const stored = await page.evaluate(() =>
      [localStorage, sessionStorage].flatMap((s) => Array.from({ length: s.length }, (_, i) => `${s.key(i)}=${s.getItem(s.key(i) ?? "")}`)),
    );
    expect(stored.filter((entry) => entry.includes(TOKEN))).toEqual([]);
    const cells = await page.$$eval("#admin-rows tr td", (tds) => tds.map((td) => td.textContent ?? ""));
    expect(cells.slice(0, 6)).toEqual(["default", recs.model, "1", "3", "1", "33.3%"]);
    // one line (with one point: one day) for the one arm and model, labelled in the legend
    const lines = await page.$$eval("#admin-chart polyline", (ps) => ps.map((p) => p.getAttribute("data-line")));
    expect(lines).toEqual([`default · ${recs.model}`]);
    expect(await page.$$eval("#admin-chart circle", (cs) => cs.length)).toBe(1);
    expect(errors).toEqual([]);
  }, 120_000);
});
