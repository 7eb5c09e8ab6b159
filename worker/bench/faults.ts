// npm run bench:faults: what the Worker survives, measured against `wrangler dev` on 127.0.0.1
// with the exported model. Three parts, each bounded in time and count, stopping by itself:
// - soak: 16 connections of mixed traffic for 60 s while a new version is published every 10 s,
//   then 20 hot swaps under the same load; requests, statuses, latency, workerd's process memory
//   and the Worker isolate's own (its JS heap, buffers and ORT's wasm memory, read through the
//   inspector: what Workers' 128 MB limit counts);
// - faults: a pointer to a missing version, a file that fails its sha256, a truncated
//   model.onnx, an R2 read that throws; what was observed and how long until a good publication
//   served again (D1 cannot be taken down from outside wrangler dev: the degraded path, reads
//   from the snapshot with x-live-history: unavailable and writes 503, is tested in workerd by
//   worker/test/live.test.ts);
// - hostile input: a generated table of requests (path tricks, repeated parameters, every
//   method on every route, bad Authorization headers, bodies that are not JSON, huge or deeply
//   nested), each answer checked to be JSON of the documented shape, never a 5xx.
// A benchmark: it reports and asserts nothing. Ends with one JSON line.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import autocannon from "autocannon";
import { Command, Option } from "commander";
import { BUNDLE_FILES, type IdMaps, type Manifest, R2_POINTER, r2Key } from "../../training/src/contract/artifacts.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { type Bundle, type R2Target, publishBundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { localTarget } from "../../training/src/publish/targets.ts";
import { ensureDevToken, migrateLocalD1 } from "../../training/src/serve/local-setup.ts";
import { type DevServer, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { knownUserIds } from "./bundle-users.ts";
import { type IsolateMemory, IsolateInspector } from "./isolate-memory.ts";
import { Rng } from "../../training/src/util/rng.ts";

const program = new Command("bench:faults")
  .description("Soak, fault and hostile-input figures for the Worker under wrangler dev on 127.0.0.1 (bounded; stops by itself).")
  .option("--model <name>", "exported model to serve", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--port <n>", "port", integer, 8789)
  .option("--persist-to <dir>", "local R2 and D1 state folder (default: a new temporary folder, removed at the end)")
  .option("--inspector-port <n>", "port of the Worker's inspector, through which the isolate's own memory is read", integer, 9231)
  .option("--seconds <n>", "soak duration", integer, 60)
  .option("--publish-every <n>", "seconds between publications during the soak", integer, 10)
  .option("--swaps <n>", "hot swaps under load after the soak", integer, 20)
  .option("--connections <n>", "concurrent connections", integer, 16)
  .option("--refresh <n>", "MODEL_REFRESH_SECONDS given to the Worker", integer, 2)
  .addOption(
    new Option("--swap <mode>", "MODEL_SWAP given to the Worker: overlap, or release-first (never two versions' sessions at once)")
      .choices(["overlap", "release-first"])
      .default("overlap"),
  )
  .option("--no-swap-load", "hot swaps without load (separates swap memory from load-driven growth)")
  .option("--only <parts>", "comma-separated parts to run: soak, swaps, faults, hostile", "soak,swaps,faults,hostile");
program.parse();
const o = program.opts<{
  model: string;
  artifacts: string;
  port: number;
  persistTo?: string;
  inspectorPort: number;
  seconds: number;
  publishEvery: number;
  swaps: number;
  connections: number;
  refresh: number;
  swap: string;
  only: string;
  swapLoad: boolean;
}>();
const parts = new Set(o.only.split(","));

/** wrangler dev's local state (R2 objects, D1), set once the run has its folder. */
let state = ".wrangler/state/v3";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

let inspector: IsolateInspector | null = null;

/** The Worker isolate's memory now (null if its inspector did not answer). */
async function isolateMemory(): Promise<IsolateMemory | null> {
  try {
    return (await inspector?.sample()) ?? null;
  } catch {
    return null;
  }
}

/** The isolate's live memory: after a full garbage collection (null if the inspector did not answer). */
async function liveIsolateMemory(server: DevServer): Promise<IsolateMemory | null> {
  if (!inspector) return null;
  const collected = inspector.collectGarbage();
  // workerd's inspector runs a collection only while the isolate runs: a request lets it
  const wake = setInterval(
    () =>
      void fetch(`${server.url}/health`).then(
        (r) => r.arrayBuffer(),
        () => null,
      ),
    200,
  );
  try {
    await collected;
  } catch {
    return null;
  } finally {
    clearInterval(wake);
  }
  return isolateMemory();
}

/** The largest total among samples, with the sample it came from. */
function peak(samples: (IsolateMemory | null)[]): IsolateMemory | null {
  return samples.reduce<IsolateMemory | null>((best, s) => (s && (!best || s.total_mb > best.total_mb) ? s : best), null);
}

const describeIsolate = (m: IsolateMemory | null): string =>
  m ? `${m.total_mb} MB (JS heap ${m.js_heap_mb}, buffers ${m.array_buffers_mb}, ORT wasm ${m.ort_wasm_mb}, kernel wasm ${m.kernel_wasm_mb})` : "unread";

/** Resident memory of every workerd process, in MB (wrangler dev runs one or two). */
function workerdRssMb(): number {
  let kb = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd")) continue;
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // the process ended meanwhile
    }
  }
  return round(kb / 1024);
}

/** The bundle again under a new version id and creation time (same files): a new publication. */
function renamed(base: Bundle, version: string): Bundle {
  const manifest: Manifest = { ...base.manifest, version, created: new Date().toISOString() };
  const files = new Map(base.files);
  files.set(BUNDLE_FILES.manifest, new TextEncoder().encode(JSON.stringify(manifest)));
  return { manifest, files };
}

await runCli(async () => {
  const dir = join(o.artifacts, o.model);
  const base = readBundle(dir);
  const ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
  // per-user data out of the isolate (R2 or D1): the users are the records of users.bin
  ids.users = knownUserIds(dir, ids);
  // its own local state: every publication here is a whole bundle (257 MB at ML-32M size) that
  // would otherwise pile up in .wrangler/state, and replace the model `npm start` published
  const persist = o.persistTo ?? mkdtempSync(join(tmpdir(), "edgerec-faults-"));
  state = join(persist, "v3");
  console.log(`local R2 and D1 state in ${persist}`);
  await migrateLocalD1("DB", persist); // before publishing: a per_user "d1" bundle loads its rows into D1
  const target = await localTarget("MODELS", persist);
  let serial = 0;
  const publishNew = async (): Promise<string> => {
    const b = renamed(base, `${base.manifest.version}-bench${++serial}-${Date.now()}`);
    await publishBundle(b, target);
    return b.manifest.version;
  };
  await publishNew();
  const token = ensureDevToken();
  const auth = { authorization: `Bearer ${token}` };
  const server = await startWranglerDev(o.port, {
    quiet: process.env.FAULTS_VERBOSE !== "1",
    vars: { MODEL_REFRESH_SECONDS: String(o.refresh), MODEL_SWAP: o.swap },
    inspectorPort: o.inspectorPort,
    persistTo: persist,
    localTraces: false,
  });
  const report: Record<string, unknown> = { refresh_seconds: o.refresh, swap: o.swap, connections: o.connections };
  try {
    inspector = await IsolateInspector.connect(o.inspectorPort);
    if (parts.has("soak")) report.soak = await soak(server, ids, auth, publishNew, o.seconds, o.publishEvery);
    if (parts.has("swaps")) report.swaps = await swaps(server, ids, auth, publishNew);
    if (parts.has("faults")) report.faults = await faults(server, target, base, auth, publishNew);
    if (parts.has("hostile")) report.hostile = await hostile(server, ids, token);
  } finally {
    inspector?.close();
    await server.stop();
    await target.close();
    if (!o.persistTo) rmSync(persist, { recursive: true, force: true });
  }
  console.log(JSON.stringify(report));
});

function mixedRequests(ids: IdMaps, auth: Record<string, string>): autocannon.Request[] {
  const rng = new Rng(9);
  const movie = () => ids.items[rng.int(ids.items.length)];
  const json = { ...auth, "content-type": "application/json" };
  const kinds: (() => { method: "GET" | "POST"; path: string; headers: Record<string, string>; body?: string })[] = [
    () => ({ method: "GET", path: `/users/${ids.users[rng.int(ids.users.length)]}/recs`, headers: auth }),
    () => ({ method: "POST", path: "/recs", headers: json, body: JSON.stringify({ history: [{ movieId: movie(), rating: 5 }, { movieId: movie() }], k: 10 }) }),
    () => ({
      method: "POST",
      path: `/users/${20_000_000 + rng.int(500)}/ratings`,
      headers: json,
      body: JSON.stringify({ ratings: [{ movieId: movie(), rating: 1 + rng.int(5) }] }),
    }),
    () => ({ method: "GET", path: `/movies/${movie()}`, headers: auth }),
    () => ({ method: "GET", path: `/movies/${movie()}/similar`, headers: auth }),
  ];
  return [{ setupRequest: (req) => ({ ...req, ...kinds[rng.int(kinds.length)]() }) }];
}

/** Mixed load for `seconds`; stop() ends it sooner. */
function load(server: DevServer, ids: IdMaps, auth: Record<string, string>, seconds: number): { done: Promise<autocannon.Result>; stop: () => void } {
  let instance: autocannon.Instance | null = null;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon({ url: server.url, connections: o.connections, duration: seconds, timeout: 10, requests: mixedRequests(ids, auth) }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });
  return { done, stop: () => instance?.stop() };
}

interface LoadSummary {
  requests: number;
  statuses: Record<string, number>;
  non_2xx: Record<string, number>;
  five_xx: number;
  errors: number;
  timeouts: number;
  p50_ms: number;
  p99_ms: number;
}

function summary(run: autocannon.Result): LoadSummary {
  const statuses: Record<string, number> = Object.fromEntries(
    Object.entries(run.statusCodeStats ?? {}).map(([code, s]) => [code, (s as { count: number }).count]),
  );
  const non2xx = Object.fromEntries(Object.entries(statuses).filter(([code]) => !code.startsWith("2")));
  const fiveXX = Object.entries(statuses)
    .filter(([code]) => code.startsWith("5"))
    .reduce((s, [, n]) => s + n, 0);
  return {
    requests: run.requests.total,
    statuses,
    non_2xx: non2xx,
    five_xx: fiveXX,
    errors: run.errors,
    timeouts: run.timeouts,
    p50_ms: run.latency.p50,
    p99_ms: run.latency.p99,
  };
}

async function soak(server: DevServer, ids: IdMaps, auth: Record<string, string>, publishNew: () => Promise<string>, seconds: number, every: number) {
  const rss: { at_s: number; mb: number }[] = [{ at_s: 0, mb: workerdRssMb() }];
  const isolate: (IsolateMemory | null)[] = [await isolateMemory()];
  const liveAtStart = await liveIsolateMemory(server);
  const started = performance.now();
  const running = load(server, ids, auth, seconds);
  let published = 0;
  // the isolate is sampled every second under load, so a hot swap's two versions are caught
  const sampler = setInterval(() => void isolateMemory().then((m) => isolate.push(m)), 1000);
  while ((performance.now() - started) / 1000 < seconds - every / 2) {
    await sleep(every * 1000);
    await publishNew();
    published++;
    rss.push({ at_s: round((performance.now() - started) / 1000), mb: workerdRssMb() });
  }
  const run = await running.done;
  clearInterval(sampler);
  rss.push({ at_s: round((performance.now() - started) / 1000), mb: workerdRssMb() });
  isolate.push(await isolateMemory());
  const isolatePeak = peak(isolate);
  const s = {
    seconds,
    publish_every_s: every,
    publications: published,
    ...summary(run),
    rss_mb: rss,
    isolate_start: isolate[0],
    isolate_live_at_start: liveAtStart,
    isolate_peak: isolatePeak,
    isolate_samples: isolate.length,
  };
  console.log(
    `soak: ${s.requests} requests in ${seconds} s over ${o.connections} connections, ${published} publications; non-2xx ${JSON.stringify(s.non_2xx)}, 5xx ${s.five_xx}, errors ${s.errors}; p50 ${s.p50_ms} ms, p99 ${s.p99_ms} ms; workerd RSS ${rss.map((r) => `${r.mb} MB @${r.at_s}s`).join(", ")}; isolate ${describeIsolate(isolate[0])} at the start (${describeIsolate(liveAtStart)} live, after a collection), peak ${describeIsolate(isolatePeak)} over ${isolate.length} samples`,
  );
  return s;
}

/** Hot swaps under load: publish, wait until the Worker answers with it, repeat. */
async function swaps(server: DevServer, ids: IdMaps, auth: Record<string, string>, publishNew: () => Promise<string>) {
  const running = o.swapLoad ? load(server, ids, auth, 600) : null;
  const rss: number[] = [];
  const isolate: (IsolateMemory | null)[] = [];
  const sampler = setInterval(() => void isolateMemory().then((m) => isolate.push(m)), 250);
  for (let n = 0; n < o.swaps; n++) {
    const version = await publishNew();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const res = await fetch(`${server.url}/health`);
      await res.arrayBuffer();
      if (res.headers.get("x-model-version") === version) break;
      await sleep(200);
    }
    await sleep(500);
    rss.push(workerdRssMb());
  }
  clearInterval(sampler);
  const afterLast = await isolateMemory();
  running?.stop();
  const liveAfterLast = await liveIsolateMemory(server);
  const run = running ? summary(await running.done) : null;
  const growth = (rss[rss.length - 1] - rss[0]) / rss[0];
  const s = {
    swaps: o.swaps,
    under_load: o.swapLoad,
    rss_after_first_mb: rss[0],
    rss_after_last_mb: rss[rss.length - 1],
    growth_pct: round(100 * growth),
    rss_mb: rss,
    isolate_peak: peak(isolate),
    isolate_after_last: afterLast,
    isolate_live_after_last: liveAfterLast,
    isolate_samples: isolate.length,
    ...run,
  };
  console.log(
    `hot swaps: ${o.swaps} ${running ? `under ${o.connections} connections` : "without load"}; workerd RSS ${s.rss_after_first_mb} MB after the first, ${s.rss_after_last_mb} MB after the last (${s.growth_pct}%)${run ? `; 5xx ${run.five_xx}, errors ${run.errors}` : ""}; isolate peak ${describeIsolate(s.isolate_peak)} over ${isolate.length} samples, ${describeIsolate(afterLast)} after the last, ${describeIsolate(liveAfterLast)} live once the load stopped`,
  );
  return s;
}

interface FaultResult {
  fault: string;
  observed: string;
  statuses: Record<string, number>;
  served_version_during_fault: string;
  recovery_ms: number;
}

async function faults(
  server: DevServer,
  target: R2Target,
  base: Bundle,
  auth: Record<string, string>,
  publishNew: () => Promise<string>,
): Promise<FaultResult[]> {
  const results: FaultResult[] = [];
  const good = await publishNew();
  await waitFor(server, auth, good);

  /** Sends requests for a few refresh intervals, then publishes a good version and times recovery. */
  const observe = async (fault: string, inject: () => Promise<void>, clear: () => Promise<void> = async () => {}) => {
    await inject();
    const statuses: Record<string, number> = {};
    const versions = new Set<string>();
    let sample = "";
    const until = Date.now() + 3 * o.refresh * 1000 + 1000;
    while (Date.now() < until) {
      for (const path of [`/users/1/recs`, "/recs", "/users/1/ratings"]) {
        const init: RequestInit =
          path === "/recs"
            ? { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ history: [{ movieId: 1 }] }) }
            : { headers: auth };
        const res = await fetch(`${server.url}${path}`, init);
        const text = await res.text();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        versions.add(res.headers.get("x-model-version") ?? "-");
        if (res.status >= 500 || res.headers.get("x-live-history"))
          sample = `${res.status} ${res.headers.get("x-live-history") ? `x-live-history: ${res.headers.get("x-live-history")} ` : ""}${text.slice(0, 160)}`;
      }
      await sleep(100);
    }
    await clear();
    const t = performance.now();
    const next = await publishNew();
    await waitFor(server, auth, next);
    const r: FaultResult = {
      fault,
      observed: sample || "every answer 2xx from the last good model",
      statuses,
      served_version_during_fault: [...versions].join(" "),
      recovery_ms: round(performance.now() - t),
    };
    console.log(
      `fault: ${fault}: statuses ${JSON.stringify(statuses)}, served ${r.served_version_during_fault}; ${r.observed}; recovered ${r.recovery_ms} ms after a good publish`,
    );
    results.push(r);
  };

  const brokenVersion = async (name: string, edit: (files: Map<string, Uint8Array>) => void) => {
    const b = renamed(base, `${base.manifest.version}-broken-${name}-${Date.now()}`);
    edit(b.files);
    for (const [file, bytes] of b.files) await target.put(r2Key(b.manifest.version, file), bytes, "application/octet-stream");
    return b.manifest.version;
  };
  const pointTo = (version: string) =>
    target.put(
      R2_POINTER,
      new TextEncoder().encode(JSON.stringify({ version, manifest: r2Key(version, BUNDLE_FILES.manifest), published: new Date().toISOString() })),
      "application/json",
    );

  await observe("pointer to a missing version", () => pointTo("missing-version").then(() => {}));
  await observe("a file whose bytes do not match its sha256", async () => {
    const v = await brokenVersion("sha", (files) => {
      const bytes = new Uint8Array(files.get(BUNDLE_FILES.rated)!);
      bytes[bytes.length - 1] ^= 0xff;
      files.set(BUNDLE_FILES.rated, bytes);
    });
    await pointTo(v);
  });
  await observe("a truncated model.onnx", async () => {
    const v = await brokenVersion("truncated", (files) => files.set(BUNDLE_FILES.model, files.get(BUNDLE_FILES.model)!.slice(0, 1000)));
    await pointTo(v);
  });
  await observe("an R2 read that throws (model.onnx's stored blob removed under the bucket)", async () => {
    const v = await brokenVersion("throws", () => {});
    removeBlob(r2Key(v, BUNDLE_FILES.model));
    await pointTo(v);
  });
  return results;
}

async function waitFor(server: DevServer, auth: Record<string, string>, version: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${server.url}/users/1/recs`, { headers: auth });
    await res.arrayBuffer();
    if (res.headers.get("x-model-version") === version) return;
    await sleep(50);
  }
  throw new Error(`the Worker did not switch to ${version} within 60 s`);
}

/** Deletes the blob file of an object in wrangler dev's local R2, so reading it throws. */
function removeBlob(key: string): void {
  const meta = join(state, "r2/miniflare-R2BucketObject");
  for (const f of readdirSync(meta).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")) {
    const db = new DatabaseSync(join(meta, f), { readOnly: true });
    const row = db.prepare("SELECT blob_id FROM _mf_objects WHERE key = ?").get(key) as { blob_id: string } | undefined;
    db.close();
    if (row) {
      rmSync(join(state, "r2/edgerec-models/blobs", row.blob_id));
      return;
    }
  }
  throw new Error(`no local R2 object ${key}`);
}

/** The generated hostile-input table, sent one by one; every answer's status and shape checked. */
async function hostile(server: DevServer, ids: IdMaps, token: string) {
  const user = String(ids.users[0]);
  const movie = String(ids.items[0]);
  const idVariants = [
    user,
    "0",
    "-1",
    "1.5",
    "1e3",
    "0x10",
    `000${user}`,
    "12345678901",
    "99999999999999999999",
    "%2F",
    `${user}%2F1`,
    "%00",
    "..%2F..",
    "%EF%BC%91%EF%BC%92",
    "abc",
    "%F0%9F%98%80",
    `${user}%20`,
    "",
  ];
  const templates = [
    "/users/{id}/recs",
    "/users/{id}/ratings",
    `/users/{id}/ratings/${movie}`,
    "/users/{id}",
    "/movies/{id}",
    "/movies/{id}/similar",
    "/recs/{id}",
    "/health/{id}",
  ];
  const methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
  const good = `Bearer ${token}`;
  const cases: { method: string; path: string; headers: Record<string, string>; body?: string }[] = [];
  for (const t of templates)
    for (const id of idVariants) for (const m of methods) cases.push({ method: m, path: t.replace("{id}", id), headers: { authorization: good } });
  for (const p of [
    `/users/${user}/recs/`,
    `//users/${user}/recs`,
    `/users/${user}/recs?k=5&k=6`,
    `/users/${user}/recs?k=`,
    `/users/${user}/recs?k=999999999999`,
    `/users/${user}/recs?k=%00`,
    `/movies/${movie}/similar?k=1&k=2`,
    `/USERS/${user}/RECS`,
    "/",
    "/recs",
    "/health",
  ]) {
    for (const m of ["GET", "POST", "DELETE"]) cases.push({ method: m, path: p, headers: { authorization: good } });
  }
  for (const a of [
    "",
    "Bearer",
    "Bearer ",
    "bearer x",
    "Basic dXNlcjpwYXNz",
    `Bearer ${"x".repeat(16_000)}`,
    `Bearer ${token} ${token}`,
    "Token abc",
    `${good}, ${good}`,
  ]) {
    cases.push({ method: "GET", path: `/users/${user}/recs`, headers: a ? { authorization: a } : {} });
    cases.push({
      method: "POST",
      path: `/users/${user}/ratings`,
      headers: { ...(a ? { authorization: a } : {}), "content-type": "application/json" },
      body: '{"ratings":[]}',
    });
  }
  const json = { authorization: good, "content-type": "application/json" };
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
    '{"__proto__": {"history": [1]}}',
  ];
  for (const body of bodies) {
    for (const path of ["/recs", `/users/${user}/ratings`]) {
      cases.push({ method: "POST", path, headers: json, body });
      cases.push({ method: "POST", path, headers: { authorization: good, "content-type": "text/plain" }, body });
    }
  }
  let fiveXX = 0;
  let badShape = 0;
  const byStatus: Record<string, number> = {};
  const failures: string[] = [];
  for (const c of cases) {
    let status = 0;
    let ok = true;
    try {
      const res = await fetch(`${server.url}${c.path}`, { method: c.method, headers: c.headers, body: c.body });
      status = res.status;
      const text = await res.text();
      if (c.method === "HEAD" || status === 204) ok = text === "";
      else {
        const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
        if (status >= 400) ok = typeof parsed.error === "string" && typeof parsed.message === "string";
      }
      if (!res.headers.get("content-type")?.includes("application/json") && c.method !== "HEAD" && status !== 204) ok = false;
    } catch (err) {
      ok = false;
      failures.push(`${c.method} ${c.path.slice(0, 60)}: ${(err as Error).message}`);
    }
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (status >= 500 || status === 0) fiveXX++;
    if (!ok) {
      badShape++;
      if (failures.length < 10) failures.push(`${c.method} ${c.path.slice(0, 60)} -> ${status}`);
    }
  }
  const s = { requests: cases.length, statuses: byStatus, five_xx_or_failed: fiveXX, not_documented_shape: badShape, examples: failures };
  console.log(
    `hostile input: ${cases.length} requests; statuses ${JSON.stringify(byStatus)}; 5xx or failed ${fiveXX}; not the documented JSON shape ${badShape}${failures.length ? `: ${failures.join("; ")}` : ""}`,
  );
  return s;
}
