/// <reference path="./raw-imports.d.ts" />
// Every `curl` example in README.md runs, as written, against the Worker's real entry point with a
// published fixture model and both secrets, and answers the status written after its `#`. The
// README promises its examples work against `npm start`'s server (127.0.0.1:8787, the admin token
// from .dev.vars in $ADMIN_TOKEN, user 1's token npm start prints in $USER_TOKEN); this keeps that
// promise checked. The entry point is called with the secrets in its env (SELF's bindings have
// none: the test config leaves API_TOKEN empty), as wrangler dev runs it with .dev.vars.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import { mintUserToken } from "../../training/src/contract/user-token.ts";
import worker from "../src/index.ts";
import { bundles, fixtureData, publish } from "./seed.ts";

/** Where the README says `npm start` serves. */
const DEV_ORIGIN = "http://127.0.0.1:8787";
const ADMIN_TOKEN = "readme-example-token";
const USER_TOKEN_SECRET = "readme-example-user-token-secret-0123456789";
/** The user npm start prints a token for. */
const USER = 1;

interface CurlExample {
  /** The command as the README writes it. */
  text: string;
  method: string;
  url: URL;
  headers: [string, string][];
  body: string | undefined;
  /** The status after `#`. */
  status: number;
}

/** The `curl` commands in a markdown text: inline code spans and lines of fenced code blocks. */
function curlCommands(markdown: string): string[] {
  const found: string[] = [];
  let fenced = false;
  let pending = "";
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) {
      // a continued line (`\` at the end) joins the next
      const joined = pending + (pending ? line.trimStart() : line);
      if (joined.trimEnd().endsWith("\\")) {
        pending = `${joined.trimEnd().slice(0, -1).trimEnd()} `;
        continue;
      }
      pending = "";
      if (/^\s*curl\s/.test(joined)) found.push(joined.trim());
      continue;
    }
    for (const span of line.matchAll(/`([^`]+)`/g)) if (/^curl\s/.test(span[1])) found.push(span[1].trim());
  }
  return found;
}

/** Splits a shell command line into words as sh would (quotes, $TOKEN), and returns the comment after an unquoted `#`. */
function shellWords(command: string, vars: Record<string, string>): { words: string[]; comment: string } {
  const words: string[] = [];
  let word: string | null = null;
  const expand = (text: string): string =>
    text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => {
      if (!(name in vars)) throw new Error(`\`${command}\` uses $${name}, which the README never sets`);
      return vars[name];
    });
  for (let i = 0; i < command.length; i++) {
    const ch = command[i];
    if (/\s/.test(ch)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (ch === "#" && word === null) {
      return { words, comment: command.slice(i + 1).trim() };
    } else if (ch === "'" || ch === '"') {
      const end = command.indexOf(ch, i + 1);
      if (end < 0) throw new Error(`\`${command}\` has an unclosed ${ch}`);
      const quoted = command.slice(i + 1, end);
      word = (word ?? "") + (ch === '"' ? expand(quoted) : quoted);
      i = end;
    } else {
      const run = /^[^\s'"]+/.exec(command.slice(i))![0];
      word = (word ?? "") + expand(run);
      i += run.length - 1;
    }
  }
  if (word !== null) words.push(word);
  return { words, comment: "" };
}

/** What a README curl command sends, and the status it says it gets. */
function parseCurl(command: string, vars: Record<string, string>): CurlExample {
  const { words, comment } = shellWords(command, vars);
  const status = /^(\d{3})\b/.exec(comment);
  if (!status) throw new Error(`\`${command}\` must end with the status it answers, as \`# 200\``);
  let method: string | undefined;
  let target: string | undefined;
  const headers: [string, string][] = [];
  let body: string | undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    const value = (): string => {
      if (i + 1 >= words.length) throw new Error(`\`${command}\`: ${w} needs a value`);
      return words[++i];
    };
    if (w === "-X" || w === "--request") method = value();
    else if (w === "-H" || w === "--header") {
      const h = value();
      const colon = h.indexOf(":");
      if (colon < 1) throw new Error(`\`${command}\`: header "${h}" is not "Name: value"`);
      headers.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
    } else if (w === "-d" || w === "--data" || w === "--data-raw") body = value();
    else if (w === "-D" || w === "--dump-header" || w === "-o" || w === "--output") value();
    else if (w === "-s" || w === "--silent" || w === "-i" || w === "--include" || w === "-f" || w === "--fail") continue;
    else if (w.startsWith("-")) throw new Error(`\`${command}\`: the test does not know curl's ${w}; teach parseCurl or write the example without it`);
    else if (target === undefined) target = w;
    else throw new Error(`\`${command}\` names two URLs`);
  }
  if (target === undefined) throw new Error(`\`${command}\` names no URL`);
  const url = new URL(/^[a-z]+:\/\//.test(target) ? target : `http://${target}`);
  // curl sends a POST when it has a body and no -X
  return { text: command, method: method ?? (body === undefined ? "GET" : "POST"), url, headers, body, status: Number(status[1]) };
}

describe("the README's curl examples", () => {
  let examples: CurlExample[] = [];
  beforeAll(async () => {
    const USER_TOKEN = (await mintUserToken(USER_TOKEN_SECRET, USER, 30 * 86_400)).token;
    examples = curlCommands(readme).map((c) => parseCurl(c, { ADMIN_TOKEN, USER_TOKEN }));
  });

  it("are parsed as sh and curl read them", () => {
    const e = parseCurl(`curl -X POST 127.0.0.1:8787/recs -H "Authorization: Bearer $TOKEN" -d '{"k": 5}'  # 201 created`, { TOKEN: "t" });
    expect(e).toMatchObject({ method: "POST", body: '{"k": 5}', status: 201, headers: [["Authorization", "Bearer t"]] });
    expect(e.url.href).toBe("http://127.0.0.1:8787/recs");
    expect(parseCurl("curl -d x http://127.0.0.1:8787/a?b=1 # 404", {}).method).toBe("POST");
    expect(() => parseCurl("curl 127.0.0.1:8787/health", {})).toThrow(/must end with the status/);
    expect(() => parseCurl('curl -H "x: $NOPE" 127.0.0.1:8787/ # 200', {})).toThrow(/\$NOPE/);
    expect(curlCommands("a `curl x # 200` b\n```sh\ncurl -X POST \\\n  y # 404\nnpm test\n```\n`npm start`")).toEqual(["curl x # 200", "curl -X POST y # 404"]);
  });

  it("cover every route the README's API table lists, against npm start's server", () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
    for (const e of examples) expect(e.url.origin, e.text).toBe(DEV_ORIGIN);
    const routes = new Set(examples.map((e) => `${e.method} ${e.url.pathname.replace(/\/\d+/g, "/:id")}`));
    for (const route of ["GET /health", "GET /users/:id/recs", "POST /recs", "GET /movies", "GET /movies/:id", "GET /movies/:id/similar"]) {
      expect(routes, route).toContain(route);
    }
    for (const route of ["POST /users/:id/ratings", "GET /users/:id/ratings", "DELETE /users/:id/ratings/:id", "DELETE /users/:id"]) {
      expect(routes, route).toContain(route);
    }
    for (const route of ["POST /admin/tokens", "GET /admin/audit", "GET /admin/forgotten"]) expect(routes, route).toContain(route);
  });

  it("answer the status the README shows, in the README's order, from the served blend with a token", async () => {
    // the model npm start serves is the blend; its fixture uses MovieLens-style ids (users 1..150,
    // movies 1..120), so the README's ids (user 1, movies 1, 2, 32; user 100000 unknown) exist in both
    const blend = bundles().find((b) => b.version === "fixture-blend")!;
    const ids = fixtureData(blend);
    for (const id of [USER, 2]) expect(ids.users, `user ${id}`).toContain(id);
    for (const id of [1, 2, 32]) expect(ids.items, `movie ${id}`).toContain(id);
    expect(ids.users).not.toContain(100000);
    await publish(env.MODELS, blend);
    const bindings = { ...env, API_TOKEN: ADMIN_TOKEN, USER_TOKEN_SECRET };
    for (const e of examples) {
      const ctx = createExecutionContext();
      const request = new Request(new URL(e.url.pathname + e.url.search, "https://edge.test"), { method: e.method, headers: e.headers, body: e.body });
      const res = await worker.fetch(request, bindings, ctx);
      await waitOnExecutionContext(ctx);
      const text = await res.text();
      expect.soft(res.status, `${e.text}\n  answered ${res.status}: ${text.slice(0, 300)}`).toBe(e.status);
      expect.soft(res.headers.get("content-type"), e.text).toMatch(/application\/json/);
    }
  });
});
