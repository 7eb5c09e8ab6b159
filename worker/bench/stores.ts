// npm run bench:stores: where a large bundle's per-user data should live, measured on
// `wrangler dev`. It puts one bundle's per-user data (users.bin, rated.bin, history.bin, as
// `npm run export -- --per-user r2` writes them) into each store the issue weighs, timing each
// load: R2 (three objects, read by range), KV (one value per user) and D1 (one row per user).
// Then it starts a bench Worker (worker/bench/stores-worker) that reads one random known user
// per request from each store, alone and together with the live-ratings query every
// recommendation makes to D1, and prints latency per route with the prices of each option.
// A benchmark: it asserts nothing.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { Command } from "commander";
import { BUNDLE_FILES, USER_RECORD, decodeRated, decodeUserRecord, r2Key, userRecordOffset } from "../../training/src/contract/artifacts.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { type D1Like, d1SnapshotTarget } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { snapshotStatements } from "../../training/src/publish/snapshot-sql.ts";
import { OFFLINE_WRANGLER_ENV } from "../../training/src/publish/targets.ts";
import { startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { Rng } from "../../training/src/util/rng.ts";
import { encodeSnapshot } from "../../training/src/contract/user-snapshots.ts";

const CONFIG = "worker/bench/stores-worker/wrangler.toml";
const MIGRATIONS = "worker/migrations";
const ROUTES = ["live", "r2", "kv", "d1", "r2+live", "kv+live", "d1+live"] as const;

// Cloudflare's published prices, Workers Paid (developers.cloudflare.com/{r2,kv,d1}/platform/pricing),
// in dollars per million operations or rows, and per GB-month stored, beyond the monthly inclusions.
const PRICES = {
  r2: { write: 4.5, read: 0.36, gbMonth: 0.015 },
  kv: { write: 5.0, read: 0.5, gbMonth: 0.5 },
  d1: { write: 1.0, read: 0.001, gbMonth: 0.75 },
};

const program = new Command("bench:stores")
  .description("Per-user data in R2 (ranged reads), KV and D1 on wrangler dev: load time, read latency, price.")
  .option("--model <name>", "exported model whose per-user data is loaded (export it with --per-user r2)", "mf")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--port <n>", "port", integer, 8789)
  .option("--requests <n>", "requests per route", integer, 2_000)
  .option("--connections <n>", "concurrent connections", integer, 1)
  .option("--kv-concurrency <n>", "KV puts in flight while loading", integer, 64)
  .option("--persist-to <dir>", "local state folder (default: a new temporary folder, removed at the end)");
program.parse();
const o = program.opts<{
  model: string;
  artifacts: string;
  port: number;
  requests: number;
  connections: number;
  kvConcurrency: number;
  persistTo?: string;
}>();

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const bytesOf = (path: string): ArrayBuffer => {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};

interface Bindings {
  MODELS: { put(key: string, value: Uint8Array): Promise<unknown> };
  SNAPSHOTS: { put(key: string, value: Uint8Array): Promise<void> };
  DB: D1Like & { exec(sql: string): Promise<unknown> };
}

async function timed<T>(what: string, work: () => Promise<T>): Promise<number> {
  const t = performance.now();
  await work();
  const s = (performance.now() - t) / 1000;
  console.log(`  ${what}: ${round(s)} s`);
  return s;
}

await runCli(async () => {
  const dir = join(o.artifacts, o.model);
  const bundle = readBundle(dir);
  const { manifest, files: bundleFiles } = bundle;
  if (manifest.per_user !== "r2" && manifest.per_user !== "d1")
    throw new Error(
      `${dir} keeps its per-user data in the bundle; export it with \`npm run export -- --model ${o.model} --per-user r2 --artifacts ${o.artifacts}\``,
    );
  // users.bin: user id -> the user's index (its row in rated.bin and history.bin)
  const usersBin = bytesOf(join(dir, BUNDLE_FILES.users));
  const userIds: number[] = [];
  const userIndex: number[] = [];
  for (let id = 0; userRecordOffset(id) + USER_RECORD.bytes <= usersBin.byteLength; id++) {
    const record = decodeUserRecord(usersBin.slice(userRecordOffset(id), userRecordOffset(id) + USER_RECORD.bytes));
    if (record) {
      userIds.push(id);
      userIndex.push(record.index);
    }
  }
  const rated = decodeRated(bytesOf(join(dir, BUNDLE_FILES.rated)));
  const history = manifest.files.history ? decodeRated(bytesOf(join(dir, BUNDLE_FILES.history))) : null;
  const persist = o.persistTo ?? mkdtempSync(join(tmpdir(), "edgerec-stores-"));
  const entries = rated.indices.length + (history?.indices.length ?? 0);
  console.log(`${manifest.version}: ${userIds.length} users, ${entries} rated + history entries; local state in ${persist}`);

  Object.assign(process.env, OFFLINE_WRANGLER_ENV);
  const { getPlatformProxy } = await import("wrangler");
  const proxy = await getPlatformProxy<Bindings>({ configPath: CONFIG, persist: { path: join(persist, "v3") }, remoteBindings: false });
  const row = (u: number, r: typeof rated | null) => (r ? r.indices.subarray(r.indptr[u], r.indptr[u + 1]) : new Uint32Array(0));
  // the n-th known user's value: its index and rows
  const snapshot = (n: number): Uint8Array => {
    const u = userIndex[n];
    return encodeSnapshot(u, row(u, rated), row(u, history), manifest.items);
  };
  const load: Record<string, number> = {};
  let valueBytes = 0;
  try {
    console.log("loading the per-user data into each store (local):");
    load.r2 = await timed("R2, three objects", async () => {
      for (const file of [BUNDLE_FILES.users, BUNDLE_FILES.rated, BUNDLE_FILES.history]) {
        if (file === BUNDLE_FILES.history && !history) continue;
        await proxy.env.MODELS.put(r2Key(manifest.version, file), new Uint8Array(bytesOf(join(dir, file))));
      }
    });
    load.kv = await timed(`KV, ${userIds.length} values`, async () => {
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let u = next++; u < userIds.length; u = next++) {
          const value = snapshot(u);
          valueBytes += value.byteLength;
          await proxy.env.SNAPSHOTS.put(`${manifest.version}/${userIds[u]}`, value);
        }
      };
      await Promise.all(Array.from({ length: o.kvConcurrency }, worker));
    });
    load.d1 = await timed(`D1, ${userIds.length} users' snapshots through publish's own statements`, async () => {
      for (const file of readdirSync(MIGRATIONS)
        .filter((f) => f.endsWith(".sql"))
        .sort())
        await proxy.env.DB.exec(
          readFileSync(join(MIGRATIONS, file), "utf8")
            .replace(/--[^\n]*\n/g, "")
            .replace(/\s+/g, " "),
        );
      await d1SnapshotTarget(proxy.env.DB, "local D1").execute(snapshotStatements(manifest, bundleFiles));
    });
  } finally {
    await proxy.dispose();
  }

  const server = await startWranglerDev(o.port, {
    quiet: true,
    config: CONFIG,
    persistTo: persist,
    readyWithoutModel: true,
    localTraces: false,
    vars: { VERSION: manifest.version, USERS: String(manifest.users), ITEMS: String(manifest.items), MAX_USER_ID: String(manifest.max_user_id) },
  });
  const latency: Record<string, { p50_ms: number; p99_ms: number; mean_ms: number; errors: number }> = {};
  try {
    const rng = new Rng(7);
    const probe = await fetch(`${server.url}/d1+live/${userIds[0]}`);
    if (probe.status !== 200) throw new Error(`the bench Worker answered ${probe.status}: ${await probe.text()}`);
    for (const route of ["floor", ...ROUTES]) {
      const run = await autocannon({
        url: server.url,
        connections: o.connections,
        amount: o.requests,
        timeout: 10,
        requests: [{ setupRequest: (req) => ({ ...req, path: route === "floor" ? "/nope" : `/${route}/${userIds[rng.int(userIds.length)]}` }) }],
      });
      const errors = run.errors + (route === "floor" ? run["2xx"] : run.non2xx);
      latency[route] = { p50_ms: run.latency.p50, p99_ms: run.latency.p99, mean_ms: round(run.latency.average), errors };
      console.log(`${route.padEnd(8)} p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, mean ${round(run.latency.average)} ms, ${errors} errors`);
    }
  } finally {
    await server.stop();
    if (!o.persistTo) rmSync(persist, { recursive: true, force: true });
  }

  const gb = (bytes: number): number => bytes / 1e9;
  const r2Bytes = (["users", "rated", "history"] as const).reduce((s, k) => s + (manifest.files[k]?.bytes ?? 0), 0);
  const price = {
    // per publication: what loading costs; per million recommendations: the reads each makes
    r2: {
      publish_usd: round((3 * PRICES.r2.write) / 1e6, 6),
      per_million_recs_usd: round((history ? 3 : 2) * PRICES.r2.read, 2),
      gb_month_usd: round(gb(r2Bytes) * PRICES.r2.gbMonth, 4),
    },
    kv: {
      publish_usd: round((userIds.length * PRICES.kv.write) / 1e6, 2),
      per_million_recs_usd: PRICES.kv.read,
      gb_month_usd: round(gb(valueBytes) * PRICES.kv.gbMonth, 4),
    },
    d1: {
      publish_usd: round((userIds.length * PRICES.d1.write) / 1e6, 2),
      per_million_recs_usd: PRICES.d1.read,
      gb_month_usd: round(gb(valueBytes) * PRICES.d1.gbMonth, 4),
    },
  };
  console.log(
    "prices beyond the monthly inclusions (Workers Paid): " +
      Object.entries(price)
        .map(([k, p]) => `${k} $${p.publish_usd} a publication, $${p.per_million_recs_usd} per million recommendations, $${p.gb_month_usd} a month stored`)
        .join("; "),
  );
  console.log(
    JSON.stringify({ version: manifest.version, users: userIds.length, entries, value_bytes: valueBytes, r2_bytes: r2Bytes, load_s: load, latency, price }),
  );
});
