// npm run bench:serve: serving speed on loopback. Publishes the exported model to the local R2,
// starts `wrangler dev` on 127.0.0.1, times the first (cold) request, sends a bounded number of
// requests over many users with autocannon, stops the server by PID, and compares the scoring
// time of onnxruntime-web with a plain TypeScript scorer on the same model. A benchmark: it
// asserts nothing.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import autocannon from "autocannon";
import { Command } from "commander";
import * as ort from "onnxruntime-web";
import { BUNDLE_FILES, type IdMaps, RECS_GRAPH, decodeRated } from "../../training/src/contract/artifacts.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { readEmbeddings } from "../../training/src/export/bundle.ts";
import { topK } from "../../training/src/eval/topk.ts";
import { publishBundle, readManifest } from "../../training/src/publish/publish.ts";
import { localTarget } from "../../training/src/publish/targets.ts";
import { startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { Rng } from "../../training/src/util/rng.ts";

const program = new Command("bench:serve")
  .description("Latency and throughput of GET /users/:id/recs under wrangler dev on 127.0.0.1, and ORT vs TypeScript scoring time.")
  .option("--model <name>", "exported model to serve", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--port <n>", "port", integer, 8788)
  .option("--requests <n>", "requests to send", integer, 20_000)
  .option("--connections <n>", "concurrent connections", integer, 8)
  .option("--queries <n>", "scoring comparisons", integer, 2_000);
program.parse();
const o = program.opts<{ model: string; artifacts: string; port: number; requests: number; connections: number; queries: number }>();

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Scoring of one user both ways, in this process (same onnxruntime-web wasm as the Worker). */
async function scoringTimes(dir: string): Promise<{ ort_ms: number; ts_ms: number; agree: number }> {
  const manifest = readManifest(dir);
  const emb = readEmbeddings(dir, manifest.users, manifest.items);
  const buf = readFileSync(join(dir, BUNDLE_FILES.rated));
  const rated = decodeRated(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(readFileSync(join(dir, BUNDLE_FILES.model)));
  const rng = new Rng(1);
  const users = Array.from({ length: o.queries }, () => rng.int(manifest.users));
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
  const ortTop = async (u: number): Promise<number[]> => {
    const ex = rated.indices.subarray(rated.indptr[u], rated.indptr[u + 1]);
    const out = await session.run({
      [RECS_GRAPH.inputs.query]: new ort.Tensor("int64", BigInt64Array.of(BigInt(u)), [1]),
      [RECS_GRAPH.inputs.k]: new ort.Tensor("int64", BigInt64Array.of(10n), [1]),
      [RECS_GRAPH.inputs.exclude]: new ort.Tensor("int64", BigInt64Array.from(ex, BigInt), [ex.length]),
    });
    return Array.from(out.items.data as BigInt64Array, Number);
  };
  for (const u of users.slice(0, 100)) { tsTop(u); await ortTop(u); } // warm up
  let t = performance.now();
  for (const u of users) await ortTop(u);
  const ortMs = (performance.now() - t) / users.length;
  t = performance.now();
  for (const u of users) tsTop(u);
  const tsMs = (performance.now() - t) / users.length;
  let agree = 0;
  for (const u of users.slice(0, 200)) if (JSON.stringify(await ortTop(u)) === JSON.stringify(tsTop(u))) agree++;
  return { ort_ms: ortMs, ts_ms: tsMs, agree: agree / 200 };
}

await runCli(async () => {
  const dir = join(o.artifacts, o.model);
  const ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
  const target = await localTarget();
  try {
    await publishBundle(dir, target);
  } finally {
    await target.close();
  }
  console.log(`published ${readManifest(dir).version} to the local R2; starting wrangler dev on 127.0.0.1:${o.port}`);
  const server = await startWranglerDev(o.port, { quiet: true });
  let result: Record<string, number>;
  try {
    // Readiness was checked on /health, which already loaded the model; restart-free cold
    // measurement: the first /users request of a fresh isolate is timed by the first request
    // after wrangler dev's start (its /health poll) and reported as ready_ms.
    let t = performance.now();
    const first = await fetch(`${server.url}/users/${ids.users[0]}/recs`);
    await first.arrayBuffer();
    const firstRecsMs = performance.now() - t;
    const rng = new Rng(2);
    t = performance.now();
    const run = await autocannon({
      url: server.url,
      connections: o.connections,
      amount: o.requests,
      timeout: 10,
      requests: [{ setupRequest: (req) => ({ ...req, path: `/users/${ids.users[rng.int(ids.users.length)]}/recs` }) }],
    });
    const seconds = (performance.now() - t) / 1000;
    const non2xx = run.non2xx + run.errors;
    result = {
      cold_start_ms: round(server.readyMs, 1),
      first_recs_ms: round(firstRecsMs, 2),
      p50_ms: run.latency.p50,
      p99_ms: run.latency.p99,
      mean_ms: round(run.latency.average),
      requests_per_second: round(run.requests.total / seconds, 1),
      requests: run.requests.total,
      failed: non2xx,
      connections: o.connections,
    };
    console.log(`cold start (spawn to first /health answered, model loaded): ${result.cold_start_ms} ms; next /users request ${result.first_recs_ms} ms`);
    console.log(`${result.requests} requests over ${ids.users.length} users, ${o.connections} connections: p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, ${result.requests_per_second} req/s, ${non2xx} failed`);
  } finally {
    await server.stop();
  }
  const s = await scoringTimes(dir);
  console.log(`scoring one user over ${readManifest(dir).items} items, top 10 (Node, same onnxruntime-web wasm): ORT ${round(s.ort_ms, 4)} ms, TypeScript ${round(s.ts_ms, 4)} ms; identical top-10 for ${(s.agree * 100).toFixed(1)}% of users`);
  console.log(JSON.stringify({ ...result, ort_score_ms: round(s.ort_ms, 4), ts_score_ms: round(s.ts_ms, 4), topk_agreement: s.agree }));
});
