// The built assets of /docs (worker/scripts/build-page.mjs): Swagger UI served from the Worker's
// own assets, started by a script file on /openapi.json, so the page loads nothing from another
// origin and needs no inline script (a CSP without 'unsafe-inline' can serve it). And the page's
// bundle holds the API client only, none of the Worker.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

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
