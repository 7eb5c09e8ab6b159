// The page at /, driven in Debian's Chromium (puppeteer-core, never a downloaded browser) against
// `wrangler dev` on 127.0.0.1 serving the fixture model, with both secrets configured so the page
// has to ask for a user token: it refuses the admin token (never storing it), signs in with a
// user token and shows that user's own recommendations and ratings. Needs `chromium` (apt-get install chromium; CHROMIUM_PATH to use another):
// without it the test fails with that message, it is never skipped. Saves a screenshot as
// artifacts/page.png.
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintUserToken } from "../../training/src/contract/user-token.ts";
import { publishBundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { localTarget } from "../../training/src/publish/targets.ts";
import { migrateLocalD1 } from "../../training/src/serve/local-setup.ts";
import { type DevServer, freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { fixtureBundleDir } from "../test/global-setup.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The admin token: the page must refuse it and never write it to storage. */
const ADMIN_TOKEN = "page-test-admin-token";
const USER_TOKEN_SECRET = "page-test-user-token-secret-0123456789abcdef";
/** A user of the fixture model (ids 1..150) and of MovieLens. */
const USER = 1;
let userToken: string;
/** Every localStorage write the page made, in order, across reloads. */
const storageWrites: [string, string][] = [];
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
    server = await startWranglerDev(await freePort(), {
      quiet: true,
      persistTo: state,
      inspectorPort: await freePort(),
      vars: { API_TOKEN: ADMIN_TOKEN, USER_TOKEN_SECRET },
    });
    userToken = (await mintUserToken(USER_TOKEN_SECRET, USER, 3600)).token;
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    page = await browser.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    // record every localStorage write before the page's script runs, on every load
    await page.exposeFunction("recordStorageWrite", (key: string, value: string) => void storageWrites.push([key, value]));
    await page.evaluateOnNewDocument(() => {
      const setItem = Storage.prototype.setItem;
      Storage.prototype.setItem = function (key: string, value: string) {
        (window as unknown as { recordStorageWrite(k: string, v: string): void }).recordStorageWrite(key, String(value));
        return setItem.call(this, key, value);
      };
    });
    await page.setViewport({ width: 1100, height: 1300 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("asks for a user token once, refusing the admin token, then searches, recommends with reasons, drops a disliked movie and shows similar movies", async () => {
    await page.goto(`${server.url}/`);
    // the page has asked /health (open to all) for the model version
    await page.waitForFunction(() => /^Model: (?!not loaded)/.test(document.getElementById("model")?.textContent ?? ""));

    // 1. type a title; the search is the first call that needs the token: the page asks once
    const query = MODEL_DIR ? "star wars" : "movie 1";
    await page.type("#search", query);
    await page.waitForSelector("#token-dialog[open]");
    // the admin token is refused with a message, the dialog stays open, nothing is stored
    await page.type("#token", ADMIN_TOKEN);
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector("#token-problem:not([hidden])");
    expect(await page.$eval("#token-problem", (e) => e.textContent)).toMatch(/not a user token.*Never enter the admin token/);
    expect(await page.$eval("#token-dialog", (d) => (d as HTMLDialogElement).open)).toBe(true);
    expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain(ADMIN_TOKEN);
    // a user token signs in
    await page.type("#token", userToken);
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector("#results li button");
    expect(await page.$eval("#account-who", (e) => e.textContent)).toBe(`Signed in as user ${USER}.`);
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
    // (the list of both picks: no refresh still on its way)
    await page.waitForFunction(() => document.querySelectorAll("#recs[aria-busy=false] li").length === 10);
    const recs = await titlesIn("#recs");
    for (const p of picked) expect(recs).not.toContain(p);

    // 4. each has a reason naming a picked movie
    const reasons = await page.$$eval("#recs li .because", (els) => els.map((e) => e.textContent ?? ""));
    expect(reasons).toHaveLength(10);
    for (const r of reasons) expect(picked.some((p) => r === `Because you liked ${p}`)).toBe(true);

    // 5. dislike one recommendation: it disappears
    const dropped = recs[2];
    await page.click(`#recs li:nth-child(3) button[aria-label^='Not for me']`);
    await page.waitForFunction(
      (title) =>
        document.querySelector("#recs[aria-busy=false]") !== null &&
        !Array.from(document.querySelectorAll("#recs li .title")).some((e) => e.textContent === title),
      {},
      dropped,
    );
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

  it("shows the signed-in user's own recommendations and stored ratings", async () => {
    const movie = MODEL_DIR ? 2571 : 2;
    const rated = await fetch(`${server.url}/users/${USER}/ratings`, {
      method: "POST",
      headers: { authorization: `Bearer ${userToken}`, "content-type": "application/json" },
      body: JSON.stringify({ ratings: [{ movieId: movie, rating: 4 }] }),
    });
    expect(rated.status).toBe(200);
    await page.click("#account-show");
    await page.waitForFunction(() => document.querySelectorAll("#user-recs li").length > 0 && document.querySelectorAll("#user-ratings li").length > 0);
    expect(await page.$$eval("#user-ratings li", (els) => els.map((e) => (e as HTMLElement).dataset.movieId))).toEqual([String(movie)]);
    expect(await page.$eval("#user-ratings", (e) => e.textContent)).toContain("rated 4");
    expect(await page.$eval("#status", (e) => (e as HTMLElement).hidden)).toBe(true);
  });

  it("narrows both lists with genre and decade chips, varies them with the slider, and a thumbs-down counts on the next list", async () => {
    type Shown = { id: string; genres: string; year: number };
    const shown = (list: string): Promise<Shown[]> =>
      page.$$eval(`${list} li`, (els) =>
        els.map((e) => ({
          id: (e as HTMLElement).dataset.movieId ?? "",
          genres: e.querySelector(".meta")?.textContent ?? "",
          year: Number(e.querySelector(".year")?.textContent),
        })),
      );
    /** Waits for a list that is loaded (not busy), not empty, and all of whose movies have `genre` and a year in range. */
    const settled = (list: string, genre: string, yearMin = 0, yearMax = 9999) =>
      page.waitForFunction(
        (sel, g, lo, hi) => {
          const items = Array.from(document.querySelectorAll(`${sel} li`));
          return (
            document.querySelector(`${sel}[aria-busy=false]`) !== null &&
            items.length > 0 &&
            items.every((e) => {
              const year = Number(e.querySelector(".year")?.textContent);
              return (e.querySelector(".meta")?.textContent ?? "").split(", ").includes(g) && year >= lo && year <= hi;
            })
          );
        },
        {},
        list,
        genre,
        yearMin,
        yearMax,
      );
    // not user 1's taste group (Comedy in the fixture), so their own list has some left in the 1990s
    const genre = "Drama";
    await page.click(`#genre-chips button::-p-text(${genre})`);
    expect(await page.$eval(`#genre-chips button[aria-pressed=true]`, (e) => e.textContent)).toBe(genre);
    // both the visitor's list (POST /recs) and the user's own (GET /users/1/recs, shown by the test above)
    await settled("#recs", genre);
    await settled("#user-recs", genre);
    await page.click("#decade-chips button::-p-text(1990s)");
    await settled("#recs", genre, 1990, 1999);
    await settled("#user-recs", genre, 1990, 1999);
    for (const m of await shown("#recs")) expect(m.year >= 1990 && m.year <= 1999 && m.genres.includes(genre)).toBe(true);
    // chips off again: the plain list, then the most varied one covers more genres
    await page.click(`#genre-chips button::-p-text(${genre})`);
    await page.click("#decade-chips button::-p-text(1990s)");
    expect(await page.$$("#filters button[aria-pressed=true]")).toHaveLength(0);
    await page.waitForFunction(() => document.querySelectorAll("#recs[aria-busy=false] li").length === 10);
    const genresOf = (ms: Shown[]) => new Set(ms.flatMap((m) => m.genres.split(", "))).size;
    const plain = genresOf(await shown("#recs"));
    await page.$eval("#diversity", (e) => {
      (e as HTMLInputElement).value = "1";
      e.dispatchEvent(new Event("change"));
    });
    await page.waitForFunction(
      (n) =>
        document.querySelector("#recs[aria-busy=false]") !== null &&
        new Set(Array.from(document.querySelectorAll("#recs li .meta:not(.year)")).flatMap((e) => (e.textContent ?? "").split(", "))).size > n,
      {},
      plain,
    );
    expect(await page.$eval("#diversity-value", (e) => e.textContent)).toBe("1");
    // a thumbs-down on the user's own list stores a rating of 1: the movie is gone from the next list
    await page.waitForFunction(() => document.querySelector("#user-recs[aria-busy=false] li") !== null);
    const down = (await shown("#user-recs"))[0].id;
    await page.click("#user-recs li:nth-child(1) button[aria-label^='Not for me']");
    await page.waitForFunction(
      (id) =>
        document.querySelector("#user-recs[aria-busy=false]") !== null &&
        document.querySelectorAll("#user-recs li").length > 0 &&
        !Array.from(document.querySelectorAll("#user-recs li")).some((e) => (e as HTMLElement).dataset.movieId === id),
      {},
      down,
    );
    const ratings = (await (await fetch(`${server.url}/users/${USER}/ratings`, { headers: { authorization: `Bearer ${userToken}` } })).json()) as {
      ratings: { movieId: number; rating: number | null }[];
    };
    expect(ratings.ratings).toContainEqual(expect.objectContaining({ movieId: Number(down), rating: 1 }));
    await page.$eval("#diversity", (e) => {
      (e as HTMLInputElement).value = "0";
      e.dispatchEvent(new Event("change"));
    });
    expect(await page.$eval("#status", (e) => (e as HTMLElement).hidden)).toBe(true);
  });

  it("shows a readable message for an API error instead of a blank area", async () => {
    // a search the API refuses (over 100 characters): its message, not a blank results area
    await page.$eval("#search", (e) => {
      (e as HTMLInputElement).value = "x".repeat(101);
      e.dispatchEvent(new Event("input"));
    });
    await page.waitForSelector("#status:not([hidden])");
    expect(await page.$eval("#status", (e) => e.textContent)).toMatch(/q must be 1 to 100 characters/);
    await page.$eval("#search", (e) => {
      (e as HTMLInputElement).value = "";
      e.dispatchEvent(new Event("input"));
    });
  });

  it("removes a token an older page stored (possibly the admin's) when it loads", async () => {
    await page.evaluate((t) => localStorage.setItem("edgerec.token", t), ADMIN_TOKEN);
    await page.reload();
    await page.waitForFunction(() => /^Model: (?!not loaded)/.test(document.getElementById("model")?.textContent ?? ""));
    expect(await page.evaluate(() => localStorage.getItem("edgerec.token"))).toBeNull();
  });

  it("fits a 360 px wide screen without sideways scrolling", async () => {
    await page.setViewport({ width: 360, height: 800 });
    await page.reload();
    await page.waitForSelector("#recs li");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });

  it("wrote only user tokens to storage, never the admin token", () => {
    // (the one admin-token write is this test's own, standing in for an older page's)
    const byPage = storageWrites.filter(([key]) => key !== "edgerec.token");
    expect(byPage.some(([, value]) => value.includes(ADMIN_TOKEN))).toBe(false);
    const tokens = byPage.filter(([key]) => key === "edgerec.userToken").map(([, value]) => value);
    expect(tokens.length).toBeGreaterThanOrEqual(1);
    for (const t of tokens) expect(t.split(".")).toHaveLength(3);
  });

  it("raised no error in the page's script along the way", () => {
    expect(pageErrors).toEqual([]);
  });
});
