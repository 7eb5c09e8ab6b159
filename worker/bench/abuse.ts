// npm run bench:abuse: the attack on the Worker, kept as a benchmark against `wrangler dev` on
// 127.0.0.1 (a free port, its own local R2 and D1 in a temporary folder, its own secrets), bounded
// in count and in time (--budget-seconds, 180 by default: a part that would start past it is
// skipped and said so). Parts:
// - auth: forged, expired, malformed, mis-schemed and look-alike credentials, and path tricks,
//   against every route that needs a token; any 2xx is an auth bypass;
// - cross-user: one user's token on another user's reads, writes and deletion, with id variants
//   (leading zeros, padding, encodings); any 2xx, or the other user's ratings changed, is counted;
// - bodies: oversized, deeply nested, malformed and mistyped bodies on the write routes;
// - bundles: corrupt and content-invalid versions behind the pointer (movies.json of [] with
//   valid checksums, repeated ids, a checksum mismatch, a truncated graph, a missing version),
//   publish's refusal of the content-invalid ones, and a fresh isolate (wrangler dev restarted)
//   meeting such a pointer: it must serve the previous good version, /health saying degraded;
// - failed loads: the pointer at a broken version while a good one is served, `--failed-loads`
//   sequential requests each running one failed load, each kind in turn (movies.json of []; a
//   model.onnx of random bytes, truncated, with an unknown operator, with its input renamed, all
//   refused by the contract's check; three graphs the check passes and ONNX Runtime refuses); the
//   isolate's live memory (inspector, after a full collection) before and after;
// - floods: `--users` users, each with its own token, reading and writing as fast as
//   `--connections` connections allow for `--flood-seconds`; 429s counted, and the rows each
//   user got stored per second (read from the local D1 afterwards).
// Every answer is counted; a 5xx is unexpected unless it is a busy D1 write's 503 with
// Retry-After (counted apart). A benchmark: it asserts nothing. Ends with one JSON line.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Command } from "commander";
import { sign } from "hono/jwt";
import { BUNDLE_FILES, type CurrentPointer, type IdMaps, type Manifest, R2_POINTER, nextPrevious, r2Key } from "../../training/src/contract/artifacts.ts";
import { mintUserToken } from "../../training/src/contract/user-token.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { type Bundle, type R2Target, publishBundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { localTarget } from "../../training/src/publish/targets.ts";
import { migrateLocalD1 } from "../../training/src/serve/local-setup.ts";
import { type DevServer, freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { randomBytes as randomGraphBytes, refusedByOrt, truncated, unknownOperator, wrongInputNames } from "./broken-graphs.ts";
import { knownUserIds } from "./bundle-users.ts";
import { type IsolateMemory, IsolateInspector } from "./isolate-memory.ts";

const program = new Command("bench:abuse")
  .description(
    "The attack as a bounded, loopback-only benchmark against wrangler dev: auth bypasses, cross-user access, bodies, broken bundles, failed loads, floods.",
  )
  .option("--model <name>", "exported model to serve", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--users <n>", "flooding users, each with its own token", integer, 4)
  .option("--connections <n>", "concurrent connections per flooding user", integer, 4)
  .option("--flood-seconds <n>", "how long the flood lasts", integer, 20)
  .option("--failed-loads <n>", "failed model loads measured (after 10 unmeasured ones)", integer, 100)
  .option("--budget-seconds <n>", "the whole run's bound: a part that would start past it is skipped", integer, 180);
program.parse();
const o = program.opts<{
  model: string;
  artifacts: string;
  users: number;
  connections: number;
  floodSeconds: number;
  failedLoads: number;
  budgetSeconds: number;
}>();

const started = performance.now();
const elapsed = (): number => (performance.now() - started) / 1000;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

/** Every answer the bench received, by what it means. */
const tally = { requests: 0, statuses: {} as Record<string, number>, unexpected5xx: 0, busy503: 0, badShape: 0, examples5xx: [] as string[] };

interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

let base = "";

/** One request; its answer counted (status, 5xx, and whether an error is the documented JSON). */
async function send(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  tally.requests++;
  let answer: Answer;
  try {
    const res = await fetch(`${base}${path}`, { method, headers, body, signal: AbortSignal.timeout(30_000) });
    answer = { status: res.status, text: await res.text(), headers: res.headers };
  } catch (err) {
    answer = { status: 0, text: (err as Error).message, headers: new Headers() };
  }
  const { status } = answer;
  tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
  if (status === 503 && answer.headers.get("retry-after") && method !== "GET") tally.busy503++;
  else if (status >= 500 || status === 0) {
    tally.unexpected5xx++;
    if (tally.examples5xx.length < 5) tally.examples5xx.push(`${method} ${path.slice(0, 60)} -> ${status} ${answer.text.slice(0, 120)}`);
  }
  if (status >= 400 && method !== "HEAD") {
    try {
      const j = JSON.parse(answer.text) as { error?: unknown; message?: unknown };
      if (typeof j.error !== "string" || typeof j.message !== "string") tally.badShape++;
    } catch {
      tally.badShape++;
    }
  }
  return answer;
}

const ok = (a: Answer): boolean => a.status >= 200 && a.status < 300;
const b64url = (x: string | Uint8Array): string => Buffer.from(x).toString("base64url");
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const jsonHeaders = (token: string): Record<string, string> => ({ ...bearer(token), "content-type": "application/json" });

interface Secrets {
  admin: string;
  userSecret: string;
}

/** Tokens an attacker can make without the secret, or with a token of its own: none may pass as anyone. */
async function forgedCredentials(s: Secrets, victim: number, own: string): Promise<Record<string, string>> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: String(victim), iat: now, exp: now + 3600 };
  const [h, , sig] = own.split(".");
  return {
    none: "",
    empty: "Bearer",
    "empty token": "Bearer ",
    "lower-case scheme with the admin token": `bearer ${s.admin}`,
    basic: `Basic ${b64url("admin:admin")}`,
    "admin token, last character changed": `Bearer ${s.admin.slice(0, -1)}${s.admin.endsWith("a") ? "b" : "a"}`,
    "admin token, truncated": `Bearer ${s.admin.slice(0, 16)}`,
    "admin token twice": `Bearer ${s.admin} ${s.admin}`,
    "admin token without scheme": s.admin,
    'alg "none"': `Bearer ${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}.`,
    "signed with another secret": `Bearer ${await sign(claims, "another-secret-another-secret-another")}`,
    "signed with the admin token as secret": `Bearer ${await sign(claims, s.admin)}`,
    "HS512 with the right secret": `Bearer ${await sign(claims, s.userSecret, "HS512")}`,
    expired: `Bearer ${await sign({ ...claims, iat: now - 7200, exp: now - 3600 }, s.userSecret)}`,
    "no expiry": `Bearer ${await sign({ sub: String(victim), iat: now }, s.userSecret)}`,
    "sub 0": `Bearer ${await sign({ ...claims, sub: "0" }, s.userSecret)}`,
    "sub as a number": `Bearer ${await sign({ ...claims, sub: victim as unknown as string }, s.userSecret)}`,
    "own token's signature on the victim's claims": `Bearer ${h}.${b64url(JSON.stringify(claims))}.${sig}`,
    "own token with a dot appended": `Bearer ${own}.`,
    "own token twice": `Bearer ${own}, Bearer ${own}`,
    "16 kB token": `Bearer ${"a".repeat(16_000)}`,
  };
}

/** Credentials that must not pass, on every route that needs a token: any 2xx is a bypass. */
async function authPart(s: Secrets, victim: number, attacker: number, movie: number) {
  const own = (await mintUserToken(s.userSecret, attacker, 3600)).token;
  const credentials = await forgedCredentials(s, victim, own);
  const rating = JSON.stringify({ ratings: [{ movieId: movie, rating: 5 }] });
  const targets: [string, string, string?][] = [
    ["GET", `/users/${victim}/recs`],
    ["GET", `/users/${victim}/ratings`],
    ["POST", `/users/${victim}/ratings`, rating],
    ["DELETE", `/users/${victim}/ratings/${movie}`],
    ["DELETE", `/users/${victim}`],
    ["GET", "/admin/audit"],
    ["GET", "/admin/forgotten"],
    ["POST", "/admin/tokens", JSON.stringify({ user: victim, ttl: "1h" })],
    ["GET", `/movies/${movie}`],
    ["POST", "/recs", JSON.stringify({ history: [{ movieId: movie, rating: 5 }] })],
  ];
  let attempts = 0;
  const bypasses: string[] = [];
  for (const [what, header] of Object.entries(credentials)) {
    for (const [method, path, body] of targets) {
      // a user's own token may reach the routes about no user: only the forged ones are sent there
      const headers: Record<string, string> = { ...(header ? { authorization: header } : {}), ...(body ? { "content-type": "application/json" } : {}) };
      const a = await send(method, path, headers, body);
      attempts++;
      if (ok(a)) bypasses.push(`${what}: ${method} ${path} -> ${a.status}`);
    }
  }
  // the attacker's own, valid token on the admin routes, with path tricks
  for (const path of [
    "/admin/audit",
    "//admin/audit",
    "/Admin/audit",
    "/ADMIN/audit",
    "/admin/audit/",
    "/admin/./audit",
    "/admin%2Faudit",
    "/%61dmin/audit",
    "/users/../admin/audit",
  ]) {
    const a = await send("GET", path, bearer(own));
    attempts++;
    if (ok(a)) bypasses.push(`user token: GET ${path} -> ${a.status}`);
  }
  const a = await send("POST", "/admin/tokens", jsonHeaders(own), JSON.stringify({ user: victim, ttl: "1h" }));
  attempts++;
  if (ok(a)) bypasses.push(`user token: POST /admin/tokens -> ${a.status}`);
  console.log(
    `auth: ${attempts} attempts with ${Object.keys(credentials).length} kinds of credentials; bypasses ${bypasses.length}${bypasses.length ? `: ${bypasses.slice(0, 5).join("; ")}` : ""}`,
  );
  return { attempts, bypasses: bypasses.length, examples: bypasses.slice(0, 5) };
}

/** A user's own token on another user's data: any 2xx is a cross-user access, and so is a change to the victim's ratings. */
async function crossUserPart(s: Secrets, victim: number, attacker: number, movie: number) {
  const victimToken = (await mintUserToken(s.userSecret, victim, 3600)).token;
  const attackerToken = (await mintUserToken(s.userSecret, attacker, 3600)).token;
  await send("POST", `/users/${victim}/ratings`, jsonHeaders(victimToken), JSON.stringify({ ratings: [{ movieId: movie, rating: 4 }] }));
  const before = (await send("GET", `/users/${victim}/ratings`, bearer(s.admin))).text;
  const ids = [
    `${victim}`,
    `0${victim}`,
    `000000000000${victim}`,
    `${victim}.0`,
    `+${victim}`,
    `${victim}%20`,
    `%20${victim}`,
    `${victim}%00`,
    `${victim}/`,
    `${victim}%2F`,
    `${encodeURIComponent(String.fromCharCode(0xff10 + (victim % 10)))}`,
    `${attacker}/../${victim}`,
    `${attacker}%2F..%2F${victim}`,
  ];
  let attempts = 0;
  const accepted: string[] = [];
  for (const id of ids) {
    for (const [method, suffix, body] of [
      ["GET", "/recs"],
      ["GET", "/ratings"],
      ["POST", "/ratings", JSON.stringify({ ratings: [{ movieId: movie, rating: 1 }] })],
      ["DELETE", `/ratings/${movie}`],
      ["DELETE", ""],
    ] as [string, string, string?][]) {
      const a = await send(method, `/users/${id}${suffix}`, body ? jsonHeaders(attackerToken) : bearer(attackerToken), body);
      attempts++;
      // an id variant that names the attacker itself (e.g. ../) is the attacker's own data
      const own = a.text.includes(`"user":${attacker}`);
      if (ok(a) && !own) accepted.push(`${method} /users/${id}${suffix} -> ${a.status}`);
    }
  }
  const after = (await send("GET", `/users/${victim}/ratings`, bearer(s.admin))).text;
  if (after !== before) accepted.push("the victim's ratings changed");
  console.log(`cross-user: ${attempts} attempts; accepted ${accepted.length}${accepted.length ? `: ${accepted.slice(0, 5).join("; ")}` : ""}`);
  return { attempts, accepted: accepted.length, examples: accepted.slice(0, 5) };
}

/** Oversized, nested, malformed and mistyped bodies on the write routes: each must get a 4xx. */
async function bodiesPart(s: Secrets, user: number) {
  const token = (await mintUserToken(s.userSecret, user, 3600)).token;
  const bodies = [
    "not json",
    "{",
    "null",
    "[]",
    '"x"',
    "1e309",
    '{"ratings": {}}',
    '{"history": [{"movieId": 1e400}]}',
    `{"ratings": [${'{"movieId": 1},'.repeat(5000)}{"movieId": 1}]}`,
    `{"history": ${"[".repeat(200_000)}${"]".repeat(200_000)}}`,
    `{"ratings": [{"movieId": 1, "rating": 5, "x": ${"{".repeat(50_000)}${"}".repeat(50_000)}}]}`,
    `{"history": [], "pad": "${"x".repeat(2 * 1024 * 1024)}"}`,
    `{"ratings": [{"movieId": 1, "rating": 5}], "pad": "${"x".repeat(8 * 1024 * 1024)}"}`,
    '{"__proto__": {"history": [1]}}',
    '{"constructor": {"prototype": {"admin": true}}, "ratings": []}',
  ];
  let attempts = 0;
  const accepted: string[] = [];
  for (const body of bodies) {
    for (const path of ["/recs", `/users/${user}/ratings`]) {
      for (const type of ["application/json", "text/plain", "application/json; charset=utf-16"]) {
        const a = await send("POST", path, { ...bearer(token), "content-type": type }, body);
        attempts++;
        if (ok(a)) accepted.push(`${path} ${type} ${body.slice(0, 30)} -> ${a.status}`);
      }
    }
  }
  console.log(`bodies: ${attempts} requests; accepted ${accepted.length}${accepted.length ? `: ${accepted.slice(0, 3).join("; ")}` : ""}`);
  return { attempts, accepted: accepted.length };
}

/** The bundle again under a new version id and creation time (same files). */
function renamed(b: Bundle, version: string): Bundle {
  const manifest: Manifest = { ...b.manifest, version, created: new Date().toISOString() };
  const files = new Map(b.files);
  files.set(BUNDLE_FILES.manifest, new TextEncoder().encode(JSON.stringify(manifest)));
  return { manifest, files };
}

/** A new version of the bundle with files replaced, the manifest's sizes and checksums following (a bad export's bundle). */
function withFiles(b: Bundle, version: string, replace: Partial<Record<keyof Manifest["files"], Uint8Array>>): Bundle {
  const r = renamed(b, version);
  const files = { ...r.manifest.files };
  for (const [key, bytes] of Object.entries(replace) as [keyof Manifest["files"], Uint8Array][]) {
    r.files.set(BUNDLE_FILES[key], bytes);
    const hash = (algorithm: string) => createHash(algorithm).update(bytes).digest("hex");
    files[key] = { bytes: bytes.byteLength, sha256: hash("sha256"), md5: hash("md5") };
  }
  r.manifest = { ...r.manifest, files };
  r.files.set(BUNDLE_FILES.manifest, new TextEncoder().encode(JSON.stringify(r.manifest)));
  return r;
}

/** Writes a bundle's files as they are (no checks: as a hand upload or an older publish could). */
async function writeByHand(target: R2Target, b: Bundle): Promise<void> {
  for (const [file, bytes] of b.files) await target.put(r2Key(b.manifest.version, file), bytes, "application/octet-stream");
}

async function pointTo(target: R2Target, version: string, previous: CurrentPointer): Promise<void> {
  const pointer: CurrentPointer = {
    version,
    manifest: r2Key(version, BUNDLE_FILES.manifest),
    published: new Date().toISOString(),
    previous: nextPrevious(previous, version),
  };
  await target.put(R2_POINTER, new TextEncoder().encode(JSON.stringify(pointer)), "application/json");
}

async function readPointer(target: R2Target): Promise<CurrentPointer> {
  const stored = await target.get(R2_POINTER);
  return JSON.parse(new TextDecoder().decode(stored!.bytes)) as CurrentPointer;
}

type Health = { status?: string; model?: string; reason?: string };

function brokenBundles(good: Bundle, stamp: number): { name: string; bundle: Bundle; checksumsValid: boolean }[] {
  const enc = (s: string) => new TextEncoder().encode(s);
  const ids = JSON.parse(new TextDecoder().decode(good.files.get(BUNDLE_FILES.ids))) as IdMaps;
  const model = good.files.get(BUNDLE_FILES.model)!;
  const sha = renamed(good, `abuse-sha-${stamp}`);
  const rated = new Uint8Array(sha.files.get(BUNDLE_FILES.rated)!);
  rated[rated.length - 1] ^= 0xff;
  sha.files.set(BUNDLE_FILES.rated, rated);
  return [
    { name: "movies.json of [] (checksums valid)", bundle: withFiles(good, `abuse-empty-${stamp}`, { movies: enc("[]") }), checksumsValid: true },
    {
      name: "an item id repeated in ids.json (checksums valid)",
      bundle: withFiles(good, `abuse-twice-${stamp}`, { ids: enc(JSON.stringify({ ...ids, items: ids.items.map((x, i) => (i === 1 ? ids.items[0] : x)) })) }),
      checksumsValid: true,
    },
    {
      name: "a truncated model.onnx (checksums valid)",
      bundle: withFiles(good, `abuse-truncated-${stamp}`, { model: model.slice(0, 1000) }),
      checksumsValid: true,
    },
    { name: "rated.bin failing its checksum", bundle: sha, checksumsValid: false },
  ];
}

/** Broken versions behind the pointer, in the running isolate and in a fresh one: served from the previous good version. */
async function bundlesPart(target: R2Target, good: Bundle, goodVersion: string, admin: string, restart: () => Promise<void>, user: number) {
  const stamp = Date.now();
  const cases = brokenBundles(good, stamp);
  let refusedAtPublish = 0;
  let contentInvalid = 0;
  const observed: { fault: string; fresh_isolate: boolean; health: string; served: string; non_2xx: number }[] = [];
  const goodPointer = await readPointer(target);
  const look = async (fault: string, fresh: boolean) => {
    let non2xx = 0;
    let health: Health = {};
    for (let i = 0; i < 5; i++) {
      const h = await send("GET", "/health", bearer(admin));
      if (!ok(h)) non2xx++;
      else health = JSON.parse(h.text) as Health;
      if (!ok(await send("GET", `/users/${user}/recs?k=5`, bearer(admin)))) non2xx++;
    }
    observed.push({
      fault,
      fresh_isolate: fresh,
      health: `${health.status ?? "-"}${health.reason ? `: ${health.reason.slice(0, 100)}` : ""}`,
      served: health.model ?? "-",
      non_2xx: non2xx,
    });
  };
  for (const c of cases) {
    if (c.checksumsValid) {
      contentInvalid++;
      try {
        await publishBundle(c.bundle, target, { force: true });
      } catch {
        refusedAtPublish++;
      }
    }
    await writeByHand(target, c.bundle);
    await pointTo(target, c.bundle.manifest.version, goodPointer);
    await look(c.name, false);
  }
  await pointTo(target, `abuse-missing-${stamp}`, goodPointer);
  await look("a pointer to a missing version", false);
  // a fresh isolate meeting a pointer to an empty catalogue
  await pointTo(target, cases[0].bundle.manifest.version, goodPointer);
  await restart();
  await look(cases[0].name, true);
  await target.put(R2_POINTER, new TextEncoder().encode(JSON.stringify(goodPointer)), "application/json");
  const back = JSON.parse((await send("GET", "/health", bearer(admin))).text) as Health;
  const servedPrevious = observed.filter((x) => x.served === goodVersion && x.health.startsWith("degraded")).length;
  console.log(
    `bundles: ${observed.length} broken pointers; the previous good version served, /health degraded, in ${servedPrevious}; non-2xx answers ${observed.reduce((s, x) => s + x.non_2xx, 0)}; publish refused ${refusedAtPublish} of ${contentInvalid} content-invalid bundles; back to ${back.model} (${back.status})`,
  );
  for (const x of observed)
    console.log(`  ${x.fresh_isolate ? "fresh isolate, " : ""}${x.fault}: served ${x.served}, /health ${x.health}; non-2xx ${x.non_2xx}`);
  return { observed, served_previous: servedPrevious, refused_at_publish: refusedAtPublish, content_invalid: contentInvalid };
}

/** Sequential requests with the pointer at a broken version: each runs one failed load (MODEL_REFRESH_SECONDS 0). */
async function failedLoadsPart(target: R2Target, good: Bundle, admin: string, inspector: IsolateInspector | null, server: DevServer) {
  const stamp = Date.now();
  const model = good.files.get(BUNDLE_FILES.model)!;
  // the graph ORT refuses (the contract's check passes it): one with a TopK, built after the ranker's when there is one
  const topK = (["similar", "foldin", "model"] as const).find((k) => good.manifest.files[k])!;
  const kinds: { name: string; bundle: Bundle }[] = [
    { name: "movies.json of []", bundle: withFiles(good, `abuse-load-empty-${stamp}`, { movies: new TextEncoder().encode("[]") }) },
    { name: "model.onnx random bytes", bundle: withFiles(good, `abuse-load-random-${stamp}`, { model: randomGraphBytes(model) }) },
    { name: "model.onnx truncated", bundle: withFiles(good, `abuse-load-truncated-${stamp}`, { model: truncated(model) }) },
    { name: "model.onnx with an unknown operator", bundle: withFiles(good, `abuse-load-op-${stamp}`, { model: unknownOperator(model) }) },
    { name: "model.onnx with its input renamed", bundle: withFiles(good, `abuse-load-inputs-${stamp}`, { model: wrongInputNames(model) }) },
    // three different graphs, so that ORT meets new bytes, not only bytes it refused before
    ...[1, 2, 3].map((n) => ({
      name: `${BUNDLE_FILES[topK]} refused by ONNX Runtime (${n} of 3)`,
      bundle: withFiles(good, `abuse-load-ort${n}-${stamp}`, { [topK]: refusedByOrt(good.files.get(BUNDLE_FILES[topK])!, `abuse ${n}`) }),
    })),
  ];
  const goodPointer = await readPointer(target);
  for (const k of kinds) await writeByHand(target, k.bundle);
  let turn = 0;
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await pointTo(target, kinds[turn++ % kinds.length].bundle.manifest.version, goodPointer);
      await send("GET", "/health", bearer(admin));
    }
  };
  const live = async (): Promise<IsolateMemory | null> => {
    if (!inspector) return null;
    const collected = inspector.collectGarbage();
    // workerd's inspector collects only while the isolate runs: a request lets it
    const wake = setInterval(
      () =>
        void fetch(`${server.url}/__edgerec_wake`).then(
          (r) => r.arrayBuffer(),
          () => null,
        ),
      100,
    );
    try {
      await collected;
      return await inspector.sample();
    } catch {
      return null;
    } finally {
      clearInterval(wake);
    }
  };
  // the first loads of an isolate grow ORT's wasm memory to its working size (it never shrinks):
  // measured from after 10 failed loads, and at the half too, so steady growth shows as such
  await run(10);
  const before = await live();
  const t = performance.now();
  const half = Math.floor(o.failedLoads / 2);
  await run(half);
  const middle = await live();
  await run(o.failedLoads - half);
  const seconds = (performance.now() - t) / 1000;
  const after = await live();
  await target.put(R2_POINTER, new TextEncoder().encode(JSON.stringify(goodPointer)), "application/json");
  const growth = before && after ? round(after.total_mb - before.total_mb) : null;
  const show = (m: IsolateMemory | null) =>
    m ? `${m.total_mb} MB (JS heap ${m.js_heap_mb}, buffers ${m.array_buffers_mb}, ORT wasm ${m.ort_wasm_mb})` : "unread";
  console.log(
    `failed loads: ${o.failedLoads} in ${round(seconds)} s (${kinds.map((k) => k.name).join(", ")}, in turn); isolate live memory ${show(before)} -> ${show(middle)} after ${half} -> ${show(after)}: ${growth} MB`,
  );
  return {
    loads: o.failedLoads,
    kinds: kinds.map((k) => k.name),
    seconds: round(seconds),
    isolate_live_before: before,
    isolate_live_middle: middle,
    isolate_live_after: after,
    growth_mb: growth,
  };
}

/** Rows of `ratings` per user in wrangler dev's local D1 (read-only, beside the running Worker). */
function storedRows(persist: string, users: number[]): Map<number, number> {
  const dir = join(persist, "v3", "d1", "miniflare-D1DatabaseObject");
  const counts = new Map<number, number>(users.map((u) => [u, 0]));
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")) {
    const db = new DatabaseSync(join(dir, f), { readOnly: true });
    try {
      const rows = db.prepare(`SELECT user_id AS u, count(*) AS n FROM ratings WHERE user_id IN (${users.join(",")}) GROUP BY user_id`).all() as {
        u: number;
        n: number;
      }[];
      for (const r of rows) counts.set(r.u, (counts.get(r.u) ?? 0) + r.n);
    } catch {
      // another database (no ratings table)
    } finally {
      db.close();
    }
  }
  return counts;
}

/** Each user reads and writes as fast as its connections allow; what the limits let through. */
async function floodPart(s: Secrets, users: number[], movies: number[], persist: string) {
  const tokens = await Promise.all(users.map(async (u) => (await mintUserToken(s.userSecret, u, 3600)).token));
  const until = performance.now() + o.floodSeconds * 1000;
  const counts = { reads: 0, writes: 0, recs: 0, http429: 0, retryAfter: 0 };
  let cursor = 0;
  // four kinds of connection per user: cheap reads, one-rating writes (to spend the write budget
  // fast), 1000-rating writes (the most rows a request may carry), and POST /recs
  const connection = async (u: number, token: string, kind: number) => {
    while (performance.now() < until) {
      let a: Answer;
      if (kind % 4 === 0) {
        counts.reads++;
        a = await send("GET", `/movies/${movies[cursor++ % movies.length]}`, bearer(token));
      } else if (kind % 4 === 1 || kind % 4 === 2) {
        counts.writes++;
        const n = kind % 4 === 1 ? 1 : 1000;
        const batch = Array.from({ length: n }, () => ({ movieId: movies[cursor++ % movies.length], rating: 4 }));
        a = await send("POST", `/users/${u}/ratings`, jsonHeaders(token), JSON.stringify({ ratings: batch }));
      } else {
        counts.recs++;
        a = await send("POST", "/recs", jsonHeaders(token), JSON.stringify({ history: [{ movieId: movies[cursor++ % movies.length], rating: 5 }] }));
      }
      if (a.status === 429) {
        counts.http429++;
        if (a.headers.get("retry-after")) counts.retryAfter++;
      }
    }
  };
  const t = performance.now();
  await Promise.all(users.flatMap((u, i) => Array.from({ length: o.connections }, (_, k) => connection(u, tokens[i], k))));
  const seconds = (performance.now() - t) / 1000;
  const rows = storedRows(persist, users);
  const perUser = [...rows.values()].map((n) => n / seconds);
  const rowsPerSecond = round(perUser.reduce((a, b) => a + b, 0) / perUser.length);
  console.log(
    `floods: ${users.length} users x ${o.connections} connections for ${round(seconds)} s: ${counts.reads} reads, ${counts.writes} writes (of 1 or 1000 ratings), ${counts.recs} POST /recs; 429 ${counts.http429} (${counts.retryAfter} with Retry-After); rows stored per user ${[...rows.values()].join(", ")} (${rowsPerSecond} per s per user)`,
  );
  return { seconds: round(seconds), ...counts, rows_stored: Object.fromEntries(rows), rows_stored_per_s_per_user: rowsPerSecond };
}

await runCli(async () => {
  const dir = join(o.artifacts, o.model);
  const bundle = readBundle(dir);
  const ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
  const userIds = knownUserIds(dir, ids);
  if (userIds.length < o.users + 4) throw new Error(`the bench needs ${o.users + 4} known users; ${dir} has ${userIds.length}`);
  const [victim, attacker, bodyUser, ...rest] = userIds;
  const flooders = rest.slice(0, o.users);
  const movie = ids.items[0];

  const persist = mkdtempSync(join(tmpdir(), "edgerec-abuse-"));
  console.log(`local R2 and D1 state in ${persist} (removed at the end)`);
  await migrateLocalD1("DB", persist);
  const target = await localTarget("MODELS", persist);
  const good = renamed(bundle, `${bundle.manifest.version}-abuse-${Date.now()}`);
  await publishBundle(good, target);
  const secrets: Secrets = { admin: randomBytes(24).toString("hex"), userSecret: randomBytes(32).toString("base64url") };
  const port = await freePort();
  const inspectorPort = await freePort();
  const start = () =>
    startWranglerDev(port, {
      quiet: process.env.ABUSE_VERBOSE !== "1",
      // every request looks at the pointer: each request after a broken publication runs a load
      vars: { API_TOKEN: secrets.admin, USER_TOKEN_SECRET: secrets.userSecret, PUBLIC_RECS: "off", MODEL_REFRESH_SECONDS: "0" },
      persistTo: persist,
      inspectorPort,
      localTraces: false,
    });
  let server = await start();
  base = server.url;
  let inspector: IsolateInspector | null = null;
  const report: Record<string, unknown> = {};
  const skipped: string[] = [];
  const within = (part: string, seconds: number): boolean => {
    if (elapsed() + seconds <= o.budgetSeconds) return true;
    skipped.push(part);
    console.log(`${part}: skipped, it would end past --budget-seconds ${o.budgetSeconds}`);
    return false;
  };
  try {
    inspector = await IsolateInspector.connect(inspectorPort).catch(() => null);
    await send("GET", `/users/${victim}/recs`, bearer(secrets.admin)); // the model loaded
    if (within("auth", 20)) report.auth = await authPart(secrets, victim, attacker, movie);
    if (within("cross-user", 10)) report.cross_user = await crossUserPart(secrets, victim, attacker, movie);
    if (within("bodies", 15)) report.bodies = await bodiesPart(secrets, bodyUser);
    if (within("bundles", 30)) {
      const restart = async () => {
        inspector?.close();
        await server.stop();
        server = await start();
        inspector = await IsolateInspector.connect(inspectorPort).catch(() => null);
      };
      report.bundles = await bundlesPart(target, bundle, good.manifest.version, secrets.admin, restart, victim);
    }
    if (within("failed loads", 40)) report.failed_loads = await failedLoadsPart(target, bundle, secrets.admin, inspector, server);
    if (within("floods", o.floodSeconds + 5)) report.floods = await floodPart(secrets, flooders, ids.items, persist);
  } finally {
    inspector?.close();
    await server.stop();
    await target.close();
    rmSync(persist, { recursive: true, force: true });
  }
  const auth = report.auth as { bypasses: number } | undefined;
  const cross = report.cross_user as { accepted: number } | undefined;
  const floods = report.floods as { http429: number; rows_stored_per_s_per_user: number } | undefined;
  const loads = report.failed_loads as { growth_mb: number | null } | undefined;
  const line = {
    requests: tally.requests,
    auth_bypasses: auth?.bypasses ?? null,
    cross_user_accepted: cross?.accepted ?? null,
    unexpected_5xx: tally.unexpected5xx,
    http_429: tally.statuses[429] ?? 0,
    rows_stored_per_s_per_user: floods?.rows_stored_per_s_per_user ?? null,
    failed_load_growth_mb: loads?.growth_mb ?? null,
    busy_503: tally.busy503,
    not_documented_shape: tally.badShape,
    statuses: tally.statuses,
    seconds: round(elapsed()),
    skipped,
    ...(tally.examples5xx.length ? { examples_5xx: tally.examples5xx } : {}),
    parts: report,
  };
  console.log(JSON.stringify(line));
});
