// npm run bench:serve: serving speed on loopback. Publishes the exported model to the local R2,
// migrates the local D1, starts `wrangler dev` on 127.0.0.1, times the first (cold) request,
// then sends a bounded number of requests per scenario with autocannon: the JSON 404 floor, GET
// recs for known users, GET recs for known users with live ratings, GET recs for new users
// (fold-in from live ratings), and POST /recs. It stops the server by PID and times scoring in
// Node with the same onnxruntime-web wasm: ORT vs a plain TypeScript scorer, and ORT fold-in.
// Per scenario it also reports the CPU the server's processes used per request (steadier than wall
// time on a shared machine), and at the end a digest of the lists a fixed set of requests got, so
// two builds can be checked to answer the same lists. A benchmark: it asserts nothing.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { Command } from "commander";
import * as ort from "onnxruntime-web";
import {
  BUNDLE_FILES,
  FOLDIN_GRAPH,
  type IdMaps,
  RECS_GRAPH,
  type RatedCsr,
  type RecsQuery,
  VECTOR_GRAPH,
  decodeInt8Table,
  decodeRated,
  recsTakesHistory,
  recsTakesUser,
} from "../../training/src/contract/artifacts.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { readEmbeddings } from "../../training/src/export/bundle.ts";
import { compiledRankKernel } from "../../training/src/export/evaluate-graph.ts";
import { topK } from "../../training/src/util/topk.ts";
import { readManifest } from "../../training/src/publish/read-bundle.ts";
import { ensureDevToken, migrateLocalD1 } from "../../training/src/serve/local-setup.ts";
import { startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { Rng } from "../../training/src/util/rng.ts";
import { int8Ranker } from "../../training/src/shared/int8-ranker.ts";
import { knownUserIds } from "./bundle-users.ts";
import { publishToLocalR2 } from "./local-publish.ts";
import { groupCpuMs } from "./process-cpu.ts";

const program = new Command("bench:serve")
  .description("Latency and throughput of GET /users/:id/recs under wrangler dev on 127.0.0.1, and ORT vs TypeScript scoring time.")
  .option("--model <name>", "exported model to serve", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--port <n>", "port", integer, 8788)
  .option("--persist-to <dir>", "local R2 and D1 state folder (default: a new temporary folder, removed at the end)")
  .option("--requests <n>", "requests to send per scenario", integer, 5_000)
  .option("--connections <n>", "concurrent connections", integer, 1)
  .option("--live-users <n>", "users given live ratings before the run (half known, half new)", integer, 200)
  .option("--queries <n>", "scoring comparisons", integer, 2_000)
  .option("--warmup <n>", "untimed requests over every recommendation scenario before the timed ones", integer, 1_000);
program.parse();
const o = program.opts<{
  model: string;
  artifacts: string;
  port: number;
  requests: number;
  connections: number;
  queries: number;
  warmup: number;
  liveUsers: number;
  persistTo?: string;
}>();

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

function readRated(dir: string, file: string): RatedCsr {
  const buf = readFileSync(join(dir, file));
  return decodeRated(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

const int64 = (values: ArrayLike<number>): ort.Tensor => new ort.Tensor("int64", BigInt64Array.from(Array.from(values), BigInt), [values.length]);

/** The query inputs of model.onnx for a known user, as the manifest's `recs` says (the Worker's rule). */
function recsQuery(recs: RecsQuery, user: number, history: RatedCsr | null): Record<string, ort.Tensor> {
  const query: Record<string, ort.Tensor> = {};
  if (recsTakesUser(recs)) query[RECS_GRAPH.inputs.query] = int64([user]);
  if (recsTakesHistory(recs) && history) query[RECS_GRAPH.inputs.history] = int64(history.indices.subarray(history.indptr[user], history.indptr[user + 1]));
  return query;
}

/**
 * Scoring of one user in this process (same onnxruntime-web wasm as the Worker), and for a graph
 * over trained user vectors also by a plain TypeScript scorer (null for history graphs).
 */
async function scoringTimes(dir: string): Promise<{ ort_ms: number; ts_ms: number | null; agree: number | null }> {
  const manifest = readManifest(dir);
  const recs = manifest.recs ?? "user";
  const rated = readRated(dir, BUNDLE_FILES.rated);
  const history = recsTakesHistory(recs) ? readRated(dir, BUNDLE_FILES.history) : null;
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(readFileSync(join(dir, BUNDLE_FILES.model)));
  const rng = new Rng(1);
  const users = Array.from({ length: o.queries }, () => rng.int(manifest.users));
  const ortTop = async (u: number): Promise<number[]> => {
    const ex = rated.indices.subarray(rated.indptr[u], rated.indptr[u + 1]);
    const out = await session.run({ ...recsQuery(recs, u, history), [RECS_GRAPH.inputs.k]: int64([10]), [RECS_GRAPH.inputs.exclude]: int64(ex) });
    return Array.from(out.items.data as BigInt64Array, Number);
  };
  for (const u of users.slice(0, 100)) await ortTop(u); // warm up
  const t0 = performance.now();
  for (const u of users) await ortTop(u);
  const ortMs = (performance.now() - t0) / users.length;
  if (recs !== "user") return { ort_ms: ortMs, ts_ms: null, agree: null };
  const emb = readEmbeddings(dir, manifest.users, manifest.items);
  const d = emb.dim;
  const scores = new Float32Array(manifest.items);
  const best = new Int32Array(10);
  const tsTop = (u: number): number[] => {
    const q = emb.users.subarray(u * d, u * d + d);
    for (let i = 0; i < manifest.items; i++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += q[c] * emb.items[i * d + c];
      scores[i] = s;
    }
    for (let p = rated.indptr[u]; p < rated.indptr[u + 1]; p++) scores[rated.indices[p]] = Number.NEGATIVE_INFINITY;
    const n = topK(scores, 0, manifest.items, 10, best);
    return Array.from(best.subarray(0, n));
  };
  for (const u of users.slice(0, 100)) tsTop(u); // warm up
  const t = performance.now();
  for (const u of users) tsTop(u);
  const tsMs = (performance.now() - t) / users.length;
  let agree = 0;
  for (const u of users.slice(0, 200)) if (JSON.stringify(await ortTop(u)) === JSON.stringify(tsTop(u))) agree++;
  return { ort_ms: ortMs, ts_ms: tsMs, agree: agree / 200 };
}

/**
 * Fold-in scoring in this process, for histories of real users' sizes: ORT on foldin.onnx, or on
 * model.onnx when it ranks histories itself (with user -1 when it also takes a user).
 */
async function foldInTimes(dir: string): Promise<{ foldin_ms: number; kernel_ms: number | null; mean_history: number } | null> {
  const manifest = readManifest(dir);
  if (!manifest.foldin) return null;
  const recs = manifest.recs ?? "user";
  const graph = recsTakesHistory(recs) ? BUNDLE_FILES.model : BUNDLE_FILES.foldin;
  const session = await ort.InferenceSession.create(readFileSync(join(dir, graph)));
  const rated = readRated(dir, BUNDLE_FILES.rated);
  const asNewUser: Record<string, ort.Tensor> = session.inputNames.includes(RECS_GRAPH.inputs.query) ? { [RECS_GRAPH.inputs.query]: int64([-1]) } : {};
  const rng = new Rng(3);
  // a history is scored from the model's own items only (the Worker's rule: movies served past
  // manifest.model_items have no row in the graph), and excludes every movie of it
  const modelItems = manifest.model_items ?? manifest.items;
  const histories = Array.from({ length: o.queries }, () => {
    const u = rng.int(manifest.users);
    return BigInt64Array.from(rated.indices.subarray(rated.indptr[u], rated.indptr[u + 1]), BigInt);
  });
  const limit = BigInt(modelItems);
  const scored = new Map(histories.map((h) => [h, BigInt64Array.from(h.filter((i) => i < limit))]));
  const run = (h: BigInt64Array<ArrayBuffer>) => {
    const s = scored.get(h) ?? h;
    return session.run({
      ...asNewUser,
      [FOLDIN_GRAPH.inputs.history]: new ort.Tensor("int64", s, [s.length]),
      [FOLDIN_GRAPH.inputs.k]: new ort.Tensor("int64", BigInt64Array.of(10n), [1]),
      [FOLDIN_GRAPH.inputs.exclude]: new ort.Tensor("int64", h, [h.length]),
    });
  };
  for (const h of histories.slice(0, 100)) await run(h); // warm up
  const t = performance.now();
  for (const h of histories) await run(h);
  const foldinMs = (performance.now() - t) / histories.length;
  await session.release();
  return { foldin_ms: foldinMs, kernel_ms: await kernelTimes(dir, histories), mean_history: histories.reduce((s, h) => s + h.length, 0) / histories.length };
}

/** What the Worker runs for a bundle with candidates.bin: vector.onnx, then the int8 kernel (null without one). */
async function kernelTimes(dir: string, histories: BigInt64Array[]): Promise<number | null> {
  if (!readManifest(dir).files.candidates) return null;
  const session = await ort.InferenceSession.create(readFileSync(join(dir, BUNDLE_FILES.vector)));
  const bytes = readFileSync(join(dir, BUNDLE_FILES.candidates));
  const table = decodeInt8Table(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  const ranker = int8Ranker(compiledRankKernel(), table);
  const run = async (h: BigInt64Array) => {
    const out = await session.run({ [VECTOR_GRAPH.inputs.history]: new ort.Tensor("int64", h, [h.length]) });
    return ranker.rank(out[VECTOR_GRAPH.outputs.vector].data as Float32Array, 10, Array.from(h, Number));
  };
  for (const h of histories.slice(0, 100)) await run(h); // warm up
  const t = performance.now();
  for (const h of histories) await run(h);
  const ms = (performance.now() - t) / histories.length;
  await session.release();
  return ms;
}

interface Scenario {
  name: string;
  request: () => { method: "GET" | "POST"; path: string; body?: string; headers?: Record<string, string> };
}

/** Filters of GET /users/:id/recs (docs/rules.md): each of the catalogue's genres, from 1980 on. */
function filterQueries(dir: string): string[] {
  const movies = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.movies), "utf8")) as { genres: string[] }[];
  return [...new Set(movies.flatMap((m) => m.genres))].map((g) => `genres=${encodeURIComponent(g)}&yearMin=1980`);
}

/** Work a request leaves running after its answer (the served-list write) is counted in its scenario's CPU. */
const SETTLE_MS = 300;

async function load(url: string, s: Scenario, token: string, serverGroup: number | undefined, amount = o.requests): Promise<Record<string, number | null>> {
  const cpu0 = serverGroup === undefined ? null : groupCpuMs(serverGroup);
  const t = performance.now();
  const run = await autocannon({
    url,
    connections: o.connections,
    amount,
    timeout: 10,
    requests: [
      {
        setupRequest: (req) => {
          const r = s.request();
          // wrangler dev reads the token npm start wrote to .dev.vars: every route needs it
          return { ...req, ...r, headers: { ...req.headers, ...r.headers, authorization: `Bearer ${token}` } };
        },
      },
    ],
  });
  const seconds = (performance.now() - t) / 1000;
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const cpu1 = serverGroup === undefined ? null : groupCpuMs(serverGroup);
  return {
    p50_ms: run.latency.p50,
    p99_ms: run.latency.p99,
    mean_ms: round(run.latency.average),
    requests_per_second: round(run.requests.total / seconds, 1),
    requests: run.requests.total,
    // the 404 floor is meant to answer 404: count what differs from the expected status
    unexpected: s.name === "floor_404" ? run["2xx"] + run.errors + run["5xx"] : run.non2xx + run.errors,
    // wrangler dev's processes: workerd runs the Worker, its D1 and the assets router
    server_cpu_ms_per_request: cpu0 === null || cpu1 === null ? null : round((cpu1 - cpu0) / run.requests.total, 3),
  };
}

/**
 * SHA-256 of the lists a fixed set of requests gets (each movie's id, score and reason), in
 * order: two builds serving the same bundle and live ratings answer the same lists when the
 * digests agree. recId, timings and the model version are left out.
 */
async function listsDigest(url: string, token: string, requests: { path: string; body?: string }[]): Promise<string> {
  const hash = createHash("sha256");
  for (const r of requests) {
    const res = await fetch(`${url}${r.path}`, {
      method: r.body ? "POST" : "GET",
      headers: { authorization: `Bearer ${token}`, ...(r.body ? { "content-type": "application/json" } : {}) },
      body: r.body,
    });
    const body = (await res.json()) as { recommendations?: { movieId: number; score: number; because: unknown }[] };
    hash.update(`${r.path} ${res.status} ${JSON.stringify((body.recommendations ?? []).map((m) => [m.movieId, m.score, m.because]))}\n`);
  }
  return hash.digest("hex");
}

await runCli(async () => {
  const dir = join(o.artifacts, o.model);
  const ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
  // per-user data out of the isolate (R2 or D1): the user ids are the records of users.bin that hold a user
  ids.users = knownUserIds(dir, ids);
  // its own local state: the bundle it publishes neither piles up in .wrangler/state nor replaces
  // the model `npm start` published
  const persist = o.persistTo ?? mkdtempSync(join(tmpdir(), "edgerec-serve-"));
  const removeState = () => {
    if (!o.persistTo) rmSync(persist, { recursive: true, force: true });
  };
  const token = ensureDevToken();
  const server = await (async () => {
    try {
      await migrateLocalD1("DB", persist); // before publishing: a per_user "d1" bundle loads its rows into D1
      await publishToLocalR2(dir, persist);
      console.log(`published ${readManifest(dir).version} to the local R2, migrated the local D1; starting wrangler dev on 127.0.0.1:${o.port}`);
      // ready once the Worker answers a path that loads no model: the first request below then pays
      // the isolate's whole cold model load, timed on its own
      return await startWranglerDev(o.port, { quiet: true, readyWithoutModel: true, persistTo: persist, localTraces: false });
    } catch (err) {
      // a bundle that would not publish, or a server that would not start, leaves no state behind
      removeState();
      throw err;
    }
  })();
  const results: Record<string, Record<string, number | string | null>> = {};
  try {
    let t = performance.now();
    const first = await fetch(`${server.url}/users/${ids.users[0]}/recs`, { headers: { authorization: `Bearer ${token}` } });
    await first.arrayBuffer();
    results.cold = { wrangler_up_ms: round(server.readyMs, 1), first_recs_with_model_load_ms: round(performance.now() - t, 2) };

    // live ratings: known users get 10 more, new users (ids above the model's) 20
    const rng = new Rng(2);
    const randomMovies = (n: number): { movieId: number; rating: number }[] =>
      Array.from(new Set(Array.from({ length: n }, () => ids.items[rng.int(ids.items.length)])), (movieId) => ({ movieId, rating: 3 + rng.int(3) }));
    const knownLive = Array.from({ length: Math.ceil(o.liveUsers / 2) }, () => ids.users[rng.int(ids.users.length)]);
    const newLive = Array.from({ length: Math.floor(o.liveUsers / 2) }, (_, n) => 10_000_000 + n);
    t = performance.now();
    for (const [user, n] of [...knownLive.map((u) => [u, 10]), ...newLive.map((u) => [u, 20])]) {
      const res = await fetch(`${server.url}/users/${user}/ratings`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ ratings: randomMovies(n) }),
      });
      if (res.status !== 200) throw new Error(`POST ratings for user ${user} answered ${res.status}: ${await res.text()}`);
    }
    results.writes = { users: o.liveUsers, ms_per_post: round((performance.now() - t) / o.liveUsers, 2) };

    const filters = filterQueries(dir);
    const scenarios: Scenario[] = [
      { name: "floor_404", request: () => ({ method: "GET", path: "/nope" }) },
      { name: "recs_known", request: () => ({ method: "GET", path: `/users/${ids.users[rng.int(ids.users.length)]}/recs` }) },
      // docs/rules.md: one genre of the catalogue (at random) from 1980 on, then diversity, against recs_known
      {
        name: "recs_known_filtered",
        request: () => ({ method: "GET", path: `/users/${ids.users[rng.int(ids.users.length)]}/recs?${filters[rng.int(filters.length)]}` }),
      },
      { name: "recs_known_diverse", request: () => ({ method: "GET", path: `/users/${ids.users[rng.int(ids.users.length)]}/recs?diversity=0.5` }) },
      { name: "recs_known_again", request: () => ({ method: "GET", path: `/users/${ids.users[rng.int(ids.users.length)]}/recs` }) },
      { name: "recs_known_live", request: () => ({ method: "GET", path: `/users/${knownLive[rng.int(knownLive.length)]}/recs` }) },
      { name: "recs_new_foldin", request: () => ({ method: "GET", path: `/users/${newLive[rng.int(newLive.length)]}/recs` }) },
      {
        name: "post_recs",
        request: () => ({
          method: "POST",
          path: "/recs",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ history: randomMovies(20), k: 10 }),
        }),
      },
    ];
    // warm: the first requests of an isolate compile (V8 tiers ORT's wasm and the Worker's code up
    // as they run hot) and fill its caches; every scenario is timed after the same warm-up
    if (o.warmup > 0) {
      let next = 0;
      const routes = scenarios.slice(1);
      const warm = await load(server.url, { name: "warmup", request: () => routes[next++ % routes.length].request() }, token, undefined, o.warmup);
      if (warm.unexpected) throw new Error(`the warm-up got ${warm.unexpected} unexpected answers`);
    }
    for (const s of scenarios) {
      results[s.name] = await load(server.url, s, token, server.child.pid);
      const r = results[s.name];
      console.log(
        `${s.name.padEnd(16)} ${r.requests} requests, ${o.connections} connection(s): p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, mean ${r.mean_ms} ms, ${r.requests_per_second} req/s, ${r.unexpected} unexpected, server CPU ${r.server_cpu_ms_per_request ?? "?"} ms/request`,
      );
    }
    // the same requests in every run of this bundle: 50 known users, the users with live ratings, 20 histories
    const fixed = new Rng(4);
    const histories = Array.from({ length: 20 }, () => {
      const movies = new Set<number>();
      while (movies.size < Math.min(20, ids.items.length)) movies.add(ids.items[fixed.int(ids.items.length)]);
      return JSON.stringify({ history: [...movies].map((movieId) => ({ movieId, rating: 3 + fixed.int(3) })), k: 10 });
    });
    results.lists = {
      requests: 50 + knownLive.length + newLive.length + histories.length,
      sha256: await listsDigest(server.url, token, [
        ...ids.users.slice(0, 50).map((u) => ({ path: `/users/${u}/recs` })),
        ...[...knownLive, ...newLive].map((u) => ({ path: `/users/${u}/recs` })),
        ...histories.map((body) => ({ path: "/recs", body })),
      ]),
    };
    console.log(`lists: ${results.lists.requests} fixed requests, sha256 ${results.lists.sha256}`);
    console.log(
      `cold start: wrangler dev up (spawn to its first answer, no model loaded) ${results.cold.wrangler_up_ms} ms; then the first /users/:id/recs, which loads the model in the isolate, ${results.cold.first_recs_with_model_load_ms} ms`,
    );
  } finally {
    await server.stop();
    removeState();
  }
  const s = await scoringTimes(dir);
  console.log(
    `scoring one user over ${readManifest(dir).items} items, top 10 (Node, same onnxruntime-web wasm): ORT ${round(s.ort_ms, 4)} ms${
      s.ts_ms !== null && s.agree !== null
        ? `, TypeScript ${round(s.ts_ms, 4)} ms; identical top-10 for ${(s.agree * 100).toFixed(1)}% of users`
        : " (a history graph: no TypeScript scorer to compare)"
    }`,
  );
  const f = await foldInTimes(dir);
  if (f)
    console.log(
      `fold-in scoring (Node, same wasm): ORT ${round(f.foldin_ms, 4)} ms${
        f.kernel_ms === null ? "" : `, vector.onnx with the int8 kernel (what the Worker runs) ${round(f.kernel_ms, 4)} ms`
      } for a history of ${f.mean_history.toFixed(0)} movies on average, top 10 over ${readManifest(dir).items} items`,
    );
  console.log(
    JSON.stringify({
      ...results,
      scoring: {
        ort_score_ms: round(s.ort_ms, 4),
        ts_score_ms: s.ts_ms === null ? null : round(s.ts_ms, 4),
        topk_agreement: s.agree,
        ...(f ? { ort_foldin_ms: round(f.foldin_ms, 4) } : {}),
        ...(f?.kernel_ms != null ? { kernel_foldin_ms: round(f.kernel_ms, 4) } : {}),
      },
    }),
  );
});
