// The page at /, driven in Debian's Chromium (puppeteer-core, never a downloaded browser) against
// `wrangler dev` on 127.0.0.1 serving the fixture model, with an API token configured so the page
// has to ask for it. Needs `chromium` (apt-get install chromium; CHROMIUM_PATH to use another):
// without it the test fails with that message, it is never skipped. Saves a screenshot as
// artifacts/page.png.
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { localTarget } from "../../training/src/publish/targets.ts";
import { migrateLocalD1 } from "../../training/src/serve/local-setup.ts";
import { type DevServer, freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { fixtureBundleDir } from "../test/global-setup.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TOKEN = "page-test-token";
/** A directory outside the repository for the page of the real model (README screenshot). */
const MODEL_DIR = process.env.EDGEREC_PAGE_MODEL;

let server: DevServer;
let browser: Browser;
let page: Page;
/** Uncaught errors in the page's own script: the last test asserts there were none. */
const pageErrors: string[] = [];

const titlesIn = (selector: string): Promise<string[]> => page.$$eval(`${selector} li .title`, (els) => els.map((e) => e.textContent ?? ""));

describe("the page in a real browser", () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`the page test needs Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH`);
    }
    const state = mkdtempSync(join(tmpdir(), "edgerec-page-state-"));
    const dir = MODEL_DIR ?? (await fixtureBundleDir("fixture-page", 3));
    const target = await localTarget("MODELS", state);
    try {
      await publishBundle(readBundle(dir), target, { force: true });
    } finally {
      await target.close();
    }
    await migrateLocalD1("DB", state);
    server = await startWranglerDev(await freePort(), { quiet: true, persistTo: state, inspectorPort: await freePort(), vars: { API_TOKEN: TOKEN } });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    page = await browser.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.setViewport({ width: 1100, height: 1300 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("asks for the token once, then searches, recommends with reasons, drops a disliked movie and shows similar movies", async () => {
    await page.goto(`${server.url}/`);
    // the page has asked /health (open to all) for the model version
    await page.waitForFunction(() => /^Model: (?!not loaded)/.test(document.getElementById("model")?.textContent ?? ""));

    // 1. type a title; the search is the first call that needs the token: the page asks once
    const query = MODEL_DIR ? "star wars" : "movie 1";
    await page.type("#search", query);
    await page.waitForSelector("#token-dialog[open]");
    await page.type("#token", TOKEN);
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector("#results li button");
    const results = await titlesIn("#results");
    expect(results.length).toBeGreaterThan(1);

    // 2. pick two movies
    const likeButtons = await page.$$("#results li button[aria-label^='Like ']");
    await likeButtons[0].click();
    await page.waitForFunction(() => document.querySelectorAll("#mine li").length === 1);
    await (await page.$$("#results li button[aria-label^='Like ']"))[1].click();
    await page.waitForFunction(() => document.querySelectorAll("#mine li").length === 2);
    const picked = await titlesIn("#mine");

    // 3. recommendations appear, none of them a picked movie
    await page.waitForFunction(() => document.querySelectorAll("#recs li").length === 10);
    const recs = await titlesIn("#recs");
    for (const p of picked) expect(recs).not.toContain(p);

    // 4. each has a reason naming a picked movie
    const reasons = await page.$$eval("#recs li .because", (els) => els.map((e) => e.textContent ?? ""));
    expect(reasons).toHaveLength(10);
    for (const r of reasons) expect(picked.some((p) => r === `Because you liked ${p}`)).toBe(true);

    // 5. dislike one recommendation: it disappears
    const dropped = recs[2];
    await page.click(`#recs li:nth-child(3) button[aria-label^='Not for me']`);
    await page.waitForFunction((title) => !Array.from(document.querySelectorAll("#recs li .title")).some((e) => e.textContent === title), {}, dropped);
    expect(await titlesIn("#recs")).not.toContain(dropped);
    expect(await page.$eval("#mine", (e) => e.textContent)).toContain("disliked");

    // 6. open the similar movies of one recommendation
    const first = (await titlesIn("#recs"))[0];
    await page.click("#recs li:nth-child(1) button[aria-label^='Movies similar to']");
    await page.waitForSelector("#similar-section:not([hidden]) #similar li");
    expect(await page.$eval("#similar-title", (e) => e.textContent)).toBe(`Similar to ${first}`);
    expect((await titlesIn("#similar")).length).toBeGreaterThan(0);
    expect(await page.$eval("#status", (e) => (e as HTMLElement).hidden)).toBe(true);

    // 8. a screenshot for people to look at
    mkdirSync("artifacts", { recursive: true });
    await page.screenshot({ path: join("artifacts", "page.png"), fullPage: true });
  });

  it("works from the keyboard alone: type, Tab to a result, Enter to like it", async () => {
    // 7. keyboard-only use of the search
    const before = await page.$$eval("#mine li", (els) => els.length);
    await page.focus("#search");
    await page.keyboard.down("Control");
    await page.keyboard.press("a");
    await page.keyboard.up("Control");
    const [query, expected] = MODEL_DIR ? ["toy story", "Toy Story"] : ["movie 7", "Movie 7"];
    await page.keyboard.type(query);
    // the results of this search, not the previous one's, are listed
    await page.waitForFunction(
      (title) =>
        Array.from(document.querySelectorAll("#results li .title")).every((e) => (e.textContent ?? "").startsWith(title)) &&
        document.querySelectorAll("#results li button").length > 0,
      {},
      expected,
    );
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? "");
    expect(focused).toMatch(/^Like /);
    await page.keyboard.press("Enter");
    await page.waitForFunction((n) => document.querySelectorAll("#mine li").length === n + 1, {}, before);
    expect(await page.$eval("#mine", (e) => e.textContent)).toContain(focused.replace(/^Like /, ""));
  });

  it("shows a readable message for an API error instead of a blank area", async () => {
    // (an id the model never saw gets the cold-start list: an id of ten digits is refused)
    await page.type("#user-id", "9999999999");
    await page.click("#user-form button[type=submit]");
    await page.waitForSelector("#status:not([hidden])");
    expect(await page.$eval("#status", (e) => e.textContent)).toMatch(/user id must be a positive integer, got "9999999999"/);
  });

  it("fits a 360 px wide screen without sideways scrolling", async () => {
    await page.setViewport({ width: 360, height: 800 });
    await page.reload();
    await page.waitForSelector("#recs li");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });

  it("raised no error in the page's script along the way", () => {
    expect(pageErrors).toEqual([]);
  });
});
