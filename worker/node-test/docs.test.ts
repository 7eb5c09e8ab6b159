// The built assets of /docs (worker/scripts/build-page.mjs): Swagger UI served from the Worker's
// own assets, started by a script file on /openapi.json, so the page loads nothing from another
// origin and needs no inline script (a CSP without 'unsafe-inline' can serve it); then the same
// in Debian's Chromium against `wrangler dev` on 127.0.0.1 (as page.test.ts: Chromium missing is
// a failure, never a skip). And the page's bundle holds the API client only, none of the Worker.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { describe, expect, it } from "vitest";
import { freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const PUBLIC = join(import.meta.dirname, "..", "public");
const read = (path: string): string => readFileSync(join(PUBLIC, path), "utf8");

describe("the built /docs page", () => {
  const html = read("docs/index.html");
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  const sources = scripts.map(([, attrs]) => /\bsrc="([^"]+)"/.exec(attrs)?.[1]);
  const styles = [...html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1]);

  it("loads only same-origin scripts, none inline, and they are all built", () => {
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const [[, , body], src] of scripts.map((s, n) => [s, sources[n]] as const)) {
      expect(src, "every script is a file").toBeDefined();
      expect(body.trim(), "no inline script").toBe("");
      expect(src).toMatch(/^\/(?!\/)/);
      expect(existsSync(join(PUBLIC, src ?? "")), `${src} is built`).toBe(true);
    }
    for (const href of styles) {
      expect(href).toMatch(/^\/(?!\/)/);
      expect(existsSync(join(PUBLIC, href)), `${href} is built`).toBe(true);
    }
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\bon[a-z]+="/); // no inline event handlers either
  });

  it("starts Swagger UI on this Worker's /openapi.json, without the external validator", () => {
    const init = read(sources.find((s) => s?.endsWith("init.js")) ?? "missing init.js");
    expect(init).toMatch(/url:"\/openapi\.json"/);
    expect(init).toMatch(/validatorUrl:null/);
    expect(init).not.toMatch(/https?:\/\//);
    expect(read("docs/swagger-ui-bundle.js")).toMatch(/SwaggerUIBundle/);
  });
});

describe("the page's bundle", () => {
  it("holds the hono/client calls but none of the Worker, zod or the OpenAPI tooling", () => {
    const app = read("app.js");
    // hono/client builds each call from the property path: the typed calls survive minifying
    expect(app).toMatch(/\.health\.\$get\(/);
    expect(app).toMatch(/\.recs\.\$post\(/);
    for (const worker of ["openAPIRegistry", "ZodError", "model_unavailable", "onnxruntime"]) expect(app).not.toContain(worker);
  });
});

describe("/docs in a real browser", () => {
  it("renders every operation of /openapi.json, with a token configured, fetching nothing from another origin", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`the docs test needs Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH`);
    const server = await startWranglerDev(await freePort(), {
      quiet: true,
      persistTo: mkdtempSync(join(tmpdir(), "edgerec-docs-state-")),
      inspectorPort: await freePort(),
      vars: { API_TOKEN: "docs-test-token" },
    });
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    try {
      const page = await browser.newPage();
      const requested: string[] = [];
      page.on("request", (r) => {
        requested.push(r.url());
      });
      const res = await page.goto(`${server.url}/docs`);
      expect(res?.status()).toBe(200);
      expect(page.url()).toBe(`${server.url}/docs/`);
      const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, object> };
      const operations = Object.values(spec.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
      expect(operations).toBeGreaterThan(0);
      await page.waitForFunction((n) => document.querySelectorAll(".opblock").length === n, { timeout: 30_000 }, operations);
      expect(requested.filter((url) => !url.startsWith(`${server.url}/`) && !url.startsWith("data:"))).toEqual([]);
      expect(requested).toContain(`${server.url}/openapi.json`);
    } finally {
      await browser.close();
      await server.stop();
    }
  }, 120_000);
});
