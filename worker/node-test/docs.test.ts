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
import { CONTENT_SECURITY_POLICY, STATIC_HEADERS, cspHeader, staticHeadersFile } from "../src/security/policy.ts";

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

describe("the assets' _headers", () => {
  it("gives every static file the API's security headers, written from the Worker's own values", () => {
    expect(read("_headers")).toBe(staticHeadersFile());
    const csp = cspHeader(CONTENT_SECURITY_POLICY);
    expect(read("_headers")).toContain(`/*\n  Content-Security-Policy: ${csp}\n`);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe/);
    expect(STATIC_HEADERS).toMatchObject({ "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer" });
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
      // every CSP violation, on every document the page loads
      const violations: string[] = [];
      await page.exposeFunction("recordViolation", (v: string) => void violations.push(v));
      await page.evaluateOnNewDocument(() => {
        document.addEventListener("securitypolicyviolation", (e) =>
          (window as unknown as { recordViolation(v: string): void }).recordViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
        );
      });
      const requested: string[] = [];
      page.on("request", (r) => {
        requested.push(r.url());
      });
      const res = await page.goto(`${server.url}/docs`);
      expect(res?.status()).toBe(200);
      // wrangler dev applies _headers to the assets (which never pass through the Worker): the
      // API's own policy, no 'unsafe-inline' anywhere
      for (const [name, value] of Object.entries(STATIC_HEADERS)) expect(res?.headers()[name.toLowerCase()], name).toBe(value);
      expect(res?.headers()["content-security-policy"]).not.toMatch(/unsafe/);
      expect(page.url()).toBe(`${server.url}/docs/`);
      const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, object> };
      const operations = Object.values(spec.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
      expect(operations).toBeGreaterThan(0);
      await page.waitForFunction((n) => document.querySelectorAll(".opblock").length === n, { timeout: 30_000 }, operations);
      expect(requested.filter((url) => !url.startsWith(`${server.url}/`) && !url.startsWith("data:"))).toEqual([]);
      expect(requested).toContain(`${server.url}/openapi.json`);
      // expand an operation (its schemas and examples render too): nothing the policy refuses
      await page.click(".opblock .opblock-summary");
      await page.waitForSelector(".opblock.is-open .opblock-body");
      // and call one (GET /health): the answer is shown highlighted
      await page.$$eval(".opblock-summary", (els) =>
        (els.find((e) => e.querySelector(".opblock-summary-path")?.textContent?.trim() === "/health") as HTMLElement | undefined)?.click(),
      );
      await page.waitForSelector(".opblock-get.is-open .execute");
      await page.$$eval(".opblock-get.is-open .execute", (els) => (els[els.length - 1] as HTMLElement).click());
      await page.waitForSelector(".live-responses-table .highlight-code", { timeout: 15_000 });
      expect(violations).toEqual([]);
      // the page at / under the strict policy: renders, no violation
      const home = await page.goto(`${server.url}/`);
      for (const [name, value] of Object.entries(STATIC_HEADERS)) expect(home?.headers()[name.toLowerCase()], name).toBe(value);
      await page.waitForFunction(() => /^Model: /.test(document.getElementById("model")?.textContent ?? ""));
      expect(violations).toEqual([]);
      // the rules file itself is not served as a file
      expect(await (await fetch(`${server.url}/_headers`)).text()).not.toContain("Content-Security-Policy:");
    } finally {
      await browser.close();
      await server.stop();
    }
  }, 120_000);
});
