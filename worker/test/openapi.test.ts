// The typed API: /openapi.json describes every route the app serves as a valid OpenAPI 3.1
// document, validation failures keep the one error JSON and name the field, and a malformed
// Authorization header is a 401 like any other missing credential.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { ModelStore } from "../src/model-store.ts";
import { bundles, fixtureData, publish } from "./seed.ts";

interface Operation {
  summary?: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: { example?: unknown }; example?: unknown }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string; scheme: string }> };
}
interface ErrorBody {
  error: string;
  message: string;
}

const app = createApp(new ModelStore());
const call = (path: string, init: RequestInit = {}, bindings: Partial<Env> = {}): Promise<Response> =>
  Promise.resolve(app.request(path, init, { ...env, ...bindings }));
const postJson = (path: string, body: unknown, bindings: Partial<Env> = {}) =>
  call(
    path,
    { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer t" }, body: JSON.stringify(body) },
    { API_TOKEN: "t", ...bindings },
  );

/** Every "#/..." reference in a JSON value. */
function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

describe("the OpenAPI document at /openapi.json", () => {
  let doc: Document;
  beforeAll(async () => {
    // open even when a token guards the API, like /health: /docs loads it before a token is entered
    const res = await call("/openapi.json", {}, { API_TOKEN: "s3cret" });
    expect(res.status).toBe(200);
    doc = await res.json<Document>();
  });

  it("is OpenAPI 3.1 with the bearer token scheme", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("edgerec");
    expect(doc.components.securitySchemes).toEqual({ bearerToken: expect.objectContaining({ type: "http", scheme: "bearer" }) });
  });

  it("lists every route the app serves, and nothing it does not", () => {
    const served = new Set(
      app.routes.filter((r) => r.method !== "ALL" && r.path !== "/openapi.json").map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([^/]+)/g, "{$1}")}`),
    );
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
    expect(served.size).toBe(20);
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it("is well formed: every operation answers JSON with descriptions, declares its path parameters, and every $ref resolves", () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method} ${path}`;
        expect(METHODS, where).toContain(method);
        expect(op.summary, where).toBeTruthy();
        expect(op.security, `${where} says who may call it`).toBeDefined();
        const inPath = (op.parameters ?? []).filter((p) => p.in === "path");
        expect(inPath.map((p) => p.name).sort(), where).toEqual([...templated].sort());
        for (const p of op.parameters ?? []) {
          expect(["path", "query", "header", "cookie"], where).toContain(p.in);
          if (p.in === "path") expect(p.required, `${where} ${p.name}`).toBe(true);
          expect(p.description, `${where} ${p.name} has a description`).toBeTruthy();
          expect(p.schema?.example ?? p.example, `${where} ${p.name} has an example`).toBeDefined();
        }
        expect(op.responses["200"]?.content?.["application/json"]?.schema, where).toBeDefined();
        for (const [status, response] of Object.entries(op.responses)) {
          expect(status, where).toMatch(/^[1-5][0-9][0-9]$/);
          expect(response.description, `${where} ${status}`).toBeTruthy();
        }
        const errors = Object.keys(op.responses).filter((s) => s >= "400");
        expect(errors.length, `${where} documents its errors`).toBeGreaterThan(0);
      }
    }
    for (const ref of refsIn(doc)) {
      const [, kind, name] = ref.match(/^#\/components\/(schemas|securitySchemes)\/(.+)$/) ?? [];
      expect(kind, ref).toBeDefined();
      expect(doc.components[kind as "schemas"][name], ref).toBeDefined();
    }
  });

  it("gives request bodies examples, and says which routes always need the token", () => {
    const body = doc.paths["/users/{id}/ratings"].post.requestBody?.content["application/json"].schema;
    expect(JSON.stringify(doc.components.schemas.RatingsBody)).toMatch(/"example"/);
    expect(body).toEqual({ $ref: "#/components/schemas/RatingsBody" });
    expect(doc.paths["/users/{id}/ratings"].post.security).toEqual([{ bearerToken: [] }]);
    expect(doc.paths["/users/{id}/recs"].get.security).toEqual([{ bearerToken: [] }, {}]);
    expect(doc.paths["/health"].get.security).toEqual([]);
  });
});

describe("validation keeps the one error JSON and names the field", () => {
  const [v1] = bundles();
  const movies = fixtureData(v1).items;
  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  const cases: [string, () => Promise<Response>, RegExp][] = [
    ["a user id", () => call("/users/abc/recs"), /^user id must be a positive integer, got "abc"$/],
    ["a movie id", () => call("/movies/0"), /^movie id must be a positive integer, got "0"$/],
    ["a repeated k", () => call("/users/1/recs?k=5&k=6"), /^k is given 2 times; give it once$/],
    ["k out of range", () => call("/movies/1/similar?k=101"), /^k must be an integer from 1 to 100, got "101"$/],
    ["a blank search", () => call("/movies?q=%20"), /^q must be 1 to 100 characters of a title to search for, got " "$/],
    [
      "a rating",
      () => postJson("/users/5/ratings", { ratings: [{ movieId: movies[0] }, { movieId: movies[1], rating: 9 }] }),
      /^ratings\[1\]\.rating must be a number from 1 to 5/,
    ],
    ["an unknown entry field", () => postJson("/users/5/ratings", { ratings: [{ movieId: 1, stars: 5 }] }), /^ratings\[0\] has an unknown field "stars"/],
    ["an empty list of ratings", () => postJson("/users/5/ratings", { ratings: [] }), /^ratings must hold 1 to 1000 entries, got 0$/],
    [
      "a movie given twice with different ratings",
      () => postJson("/recs", { history: [{ movieId: movies[0], rating: 5 }, { movieId: movies[1] }, { movieId: movies[0], rating: 2 }] }),
      new RegExp(`^history\\[2\\] rates movie ${movies[0]} 2, but history\\[0\\] rates it 5: give each movie once$`),
    ],
    [
      "a body field",
      () => postJson("/recs", { history: [{ movieId: movies[0] }], extra: 1 }),
      /^unknown field "extra" \(allowed: history, k, genres, excludeGenres, yearMin, yearMax, exclude, include, diversity\)$/,
    ],
    ["k in a body", () => postJson("/recs", { history: [{ movieId: movies[0] }], k: "5" }), /^k must be an integer from 1 to 100, got "5"$/],
    ["a body that is not an object", () => postJson("/recs", [1]), /^the body must be a JSON object with a "history" array$/],
    ["malformed JSON", () => call("/recs", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }), /JSON/],
  ];
  for (const [what, request, message] of cases) {
    it(`answers ${what} that breaks its rule with 400 bad_request`, async () => {
      const res = await request();
      expect(res.status).toBe(400);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const body = await res.json<ErrorBody>();
      expect(Object.keys(body).sort()).toEqual(["error", "message"]);
      expect(body.error).toBe("bad_request");
      expect(body.message).toMatch(message);
    });
  }

  it("checks ids before loading a model: a bad id is a 400 even while none can be loaded", async () => {
    const fresh = createApp(new ModelStore());
    const res = await fresh.request("/users/abc/recs", {}, { ...env, MODELS: { get: () => Promise.reject(new Error("R2 down")) } as unknown as R2Bucket });
    expect(res.status).toBe(400);
  });

  it("accepts a movie the model does not know: left out of scoring, counted in ignored", async () => {
    const res = await postJson("/recs", { history: [{ movieId: movies[0] }, { movieId: 99_999 }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ source: "fold-in", ignored: 1 });
  });
});

describe("a malformed Authorization header", () => {
  for (const header of ['Bearer "s3cret"', "Basic czNjcmV0", "Bearer", "s3cret"]) {
    it(`answers ${JSON.stringify(header)} with 401 unauthorized JSON`, async () => {
      const res = await call("/movies/1", { headers: { authorization: header } }, { API_TOKEN: "s3cret" });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      expect(await res.json<ErrorBody>()).toEqual({ error: "unauthorized", message: "the Authorization header must be `Bearer <token>`" });
    });
  }
});
