// npm run bench:edge: latency in the real topology, measured under `wrangler dev` with the
// production round trips injected (DEV_LATENCY, worker/src/edge/latency.ts): D1's primary far
// away, a replica nearby that lags, R2 in between. It writes its own wrangler config (the
// project's, plus the replica's database DB_REPLICA), migrates both local databases, publishes
// the bundle, then times, one request at a time from 127.0.0.1: the floor (a route that touches
// nothing), a known user with no recent writes, the same kind of user right after a write (the
// read sends the write's bookmark), a new user with a few live ratings, and a fresh isolate's
// first recommendation (wrangler dev restarted). Every write-then-read pair checks read-your-
// writes: the movie just rated must not come back. A benchmark: it asserts nothing. Ends with one
// JSON line.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { Command } from "commander";
import { parse, stringify } from "smol-toml";
import { BUNDLE_FILES, type IdMaps } from "../../training/src/contract/artifacts.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { publishBundle } from "../../training/src/publish/publish.ts";
import { readBundle, readManifest } from "../../training/src/publish/read-bundle.ts";
import { OFFLINE_WRANGLER_ENV, localTarget } from "../../training/src/publish/targets.ts";
import { type DevServer, freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { Rng } from "../../training/src/util/rng.ts";
import { BOOKMARK_HEADER } from "../src/edge/bookmark.ts";
import { DEV_MARKER, DEV_QUERIES_HEADER } from "../src/edge/names.ts";
import { knownUserIds } from "./bundle-users.ts";

const program = new Command("bench:edge")
  .description("Latency under injected D1 primary/replica and R2 round trips (wrangler dev on 127.0.0.1), and read-your-writes over write-then-read pairs.")
  .option("--model <name>", "exported model to serve", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--d1-primary-ms <n>", "injected round trip to D1's primary", integer, 100)
  .option("--d1-replica-ms <n>", "injected round trip to the nearest D1 replica", integer, 5)
  .option("--r2-ms <n>", "injected round trip to R2", integer, 30)
  .option("--replica-lag-ms <n>", "how long after a commit the replica has it", integer, 200)
  .option("--requests <n>", "requests per read scenario", integer, 300)
  .option("--pairs <n>", "write-then-read pairs (each read checks read-your-writes)", integer, 1000)
  .option("--cold-runs <n>", "fresh isolates (wrangler dev restarts) for the first recommendation", integer, 3);
program.parse();
const o = program.opts<{
  model: string;
  artifacts: string;
  d1PrimaryMs: number;
  d1ReplicaMs: number;
  r2Ms: number;
  replicaLagMs: number;
  requests: number;
  pairs: number;
  coldRuns: number;
}>();

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The project's wrangler.toml with absolute paths, and the replica's database beside DB. */
function benchConfig(dir: string): string {
  const root = resolve(".");
  const config = parse(readFileSync("wrangler.toml", "utf8")) as Record<string, unknown> & {
    main: string;
    d1_databases: Record<string, unknown>[];
    assets?: { directory: string };
  };
  config.main = join(root, config.main);
  if (config.assets) config.assets.directory = join(root, config.assets.directory);
  const db = config.d1_databases.find((d) => d.binding === "DB")!;
  db.migrations_dir = join(root, String(db.migrations_dir));
  config.d1_databases.push({ ...db, binding: "DB_REPLICA", database_name: "edgerec-replica", database_id: "00000000-0000-0000-0000-00000000edge" });
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, stringify(config));
  return path;
}

/** A Server-Timing header's durations by name ("load-pointer;dur=31.0,read;dur=12.0;desc=..." -> { "load-pointer": 31, read: 12 }). */
function serverTiming(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of (header ?? "").split(",")) {
    const [name, ...params] = entry.trim().split(";");
    const dur = params.find((p) => p.startsWith("dur="));
    if (name && dur) out[name] = Number(dur.slice(4));
  }
  return out;
}

interface Timed {
  ms: number;
  res: Response;
  body: string;
}

await runCli(async () => {
  const dir = join(o.artifacts, o.model);
  const manifest = readManifest(dir);
  if (manifest.per_user === "d1")
    throw new Error(
      `${manifest.version} keeps its per-user data in D1, which publish writes outside the Worker, so the modelled replica would lack it; export the bundle with per-user data in memory or R2`,
    );
  const ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
  const known = knownUserIds(dir, ids);
  const work = mkdtempSync(join(tmpdir(), "edgerec-edge-"));
  const persist = join(work, "state");
  const config = benchConfig(work);
  const token = randomBytes(24).toString("base64url");
  const injected = { d1_primary_ms: o.d1PrimaryMs, d1_replica_ms: o.d1ReplicaMs, r2_ms: o.r2Ms, replica_lag_ms: o.replicaLagMs };
  const vars = {
    API_TOKEN: token,
    DEV_LATENCY: Object.entries(injected)
      .map(([k, v]) => `${k}=${v}`)
      .join(","),
    EDGEREC_DEV: DEV_MARKER,
  };
  let server: DevServer | null = null;
  try {
    for (const binding of ["DB", "DB_REPLICA"])
      execFileSync("npx", ["wrangler", "d1", "migrations", "apply", binding, "--local", "--persist-to", persist, "--config", config], {
        env: { ...process.env, ...OFFLINE_WRANGLER_ENV },
        stdio: "ignore",
      });
    const target = await localTarget("MODELS", persist);
    try {
      await publishBundle(readBundle(dir), target, { force: true });
    } finally {
      await target.close();
    }
    const port = await freePort();
    const start = (extra: Record<string, string> = {}): Promise<DevServer> =>
      startWranglerDev(port, { quiet: true, readyWithoutModel: true, persistTo: persist, config, vars: { ...vars, ...extra }, localTraces: false });
    server = await start();
    console.log(`published ${manifest.version}; wrangler dev on 127.0.0.1:${port} with DEV_LATENCY ${vars.DEV_LATENCY}`);
    const url = server.url;
    const send = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Timed> => {
      const t = performance.now();
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { ms: performance.now() - t, res, body: text };
    };
    const counted = (r: Response, what: string): number =>
      Number(new RegExp(`${what}=(\\d+)`).exec(r.headers.get(DEV_QUERIES_HEADER) ?? "")?.[1] ?? Number.NaN);
    const primaryReads = (r: Response): number => counted(r, "primary-reads");
    let r2Before = 0;
    /** R2 calls since the previous answer (the header holds the isolate's running total). */
    const r2Since = (r: Response): number => {
      const total = counted(r, "r2-calls");
      if (Number.isNaN(total)) return 0;
      const n = Math.max(0, total - r2Before);
      r2Before = total;
      return n;
    };
    const recIds = (t: Timed): number[] => {
      if (t.res.status !== 200) throw new Error(`GET recs answered ${t.res.status}: ${t.body.slice(0, 300)}`);
      return (JSON.parse(t.body) as { recommendations: { movieId: number }[] }).recommendations.map((r) => r.movieId);
    };
    const rng = new Rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];

    // the first recommendation loads the model; warm up past it (and JIT) before timing
    for (let n = 0; n < 30; n++) {
      const warm = await send("GET", `/users/${pick(known)}/recs`);
      recIds(warm);
      r2Since(warm.res); // the load's R2 calls are not the floor's
    }

    const scenario = async (
      name: string,
      requests: () => Promise<Timed>,
    ): Promise<{ p50: number; p99: number; primary: number; replica: number; r2: number }> => {
      const ms: number[] = [];
      let primary = 0;
      let replica = 0;
      let r2 = 0;
      for (let n = 0; n < o.requests; n++) {
        const t = await requests();
        if (t.res.status >= 500) throw new Error(`${name}: ${t.res.status} ${t.body.slice(0, 300)}`);
        ms.push(t.ms);
        primary += primaryReads(t.res) || 0;
        replica += counted(t.res, "replica-reads") || 0;
        r2 += r2Since(t.res);
      }
      const per = (x: number): number => round(x / o.requests, 3);
      const r = { p50: round(quantile(ms, 0.5)), p99: round(quantile(ms, 0.99)), primary: per(primary), replica: per(replica), r2: per(r2) };
      console.log(
        `${name.padEnd(12)} ${o.requests} requests: p50 ${r.p50} ms, p99 ${r.p99} ms; per request: D1 primary reads ${r.primary}, replica reads ${r.replica}, R2 calls ${r.r2}`,
      );
      return r;
    };

    const floor = await scenario("floor", () => send("GET", "/__edgerec_floor"));
    // known users with no recent writes, in a warm location: 50 users, each seen before (their state is cached)
    const regulars = Array.from({ length: 50 }, () => pick(known));
    for (const user of regulars) await send("GET", `/users/${user}/recs`);
    const knownUser = await scenario("known", () => send("GET", `/users/${pick(regulars)}/recs`));
    // the same, first seen in this location: the state comes from the nearest replica
    const unseen = known.filter((u) => !regulars.includes(u) && !known.slice(0, 100).includes(u));
    let next = 0;
    const firstVisit = await scenario("known_first", () => send("GET", `/users/${unseen[next++ % unseen.length]}/recs`));

    // new users: a few live ratings each, written first; the replica has them once the lag has passed
    const newUsers = Array.from({ length: 50 }, (_, n) => 20_000_000 + n);
    for (const user of newUsers)
      await send("POST", `/users/${user}/ratings`, {}, { ratings: Array.from({ length: 5 }, () => ({ movieId: pick(ids.items), rating: 4 + rng.int(2) })) });
    await sleep(o.replicaLagMs + 100);
    const newUser = await scenario("new_user", () => send("GET", `/users/${pick(newUsers)}/recs`));

    // write-then-read pairs: rate the top of the user's current list, then read with the write's bookmark
    const writers = known.slice(0, Math.min(known.length, 100));
    const lists = new Map<number, number[]>();
    const afterMs: number[] = [];
    let violations = 0;
    let afterPrimary = 0;
    for (let n = 0; n < o.pairs; n++) {
      const user = writers[n % writers.length];
      const list = lists.get(user) ?? recIds(await send("GET", `/users/${user}/recs`));
      const movieId = list[0];
      const write = await send("POST", `/users/${user}/ratings`, {}, { ratings: [{ movieId, rating: 5 }] });
      if (write.res.status !== 200) throw new Error(`POST ratings answered ${write.res.status}: ${write.body.slice(0, 300)}`);
      const bookmark = write.res.headers.get(BOOKMARK_HEADER);
      const read = await send("GET", `/users/${user}/recs`, bookmark ? { [BOOKMARK_HEADER]: bookmark } : {});
      const after = recIds(read);
      if (after.includes(movieId)) violations++;
      afterMs.push(read.ms);
      afterPrimary += primaryReads(read.res) || 0;
      lists.set(user, after);
    }
    const afterWrite = { p50: round(quantile(afterMs, 0.5)), p99: round(quantile(afterMs, 0.99)), primary: round(afterPrimary / o.pairs, 3) };
    console.log(
      `after_write  ${o.pairs} write-then-read pairs: read p50 ${afterWrite.p50} ms, p99 ${afterWrite.p99} ms, D1 primary reads per read ${afterWrite.primary}; read-your-writes violations ${violations}`,
    );

    // fresh isolates: wrangler dev restarted, the first recommendation timed (the model's whole
    // load), in a warm location (its Cache API holds the version's files and the user's state)
    // and, alternately, as in a location that has neither (both caches off)
    const cold: number[] = [];
    const coldLocation: number[] = [];
    /** Each cold run's Server-Timing (the load's phases, then read, rank, reasons), by name in ms. */
    const coldTimings: { location: "warm" | "cold"; ms: number; timing: Record<string, number> }[] = [];
    for (let n = 0; n < 2 * o.coldRuns; n++) {
      const warmLocation = n % 2 === 0;
      // the replica's log is the isolate's memory: let it apply everything before the restart
      await sleep(o.replicaLagMs + 100);
      await send("GET", `/users/${pick(unseen)}/recs`);
      await sleep(500);
      await server.stop();
      server = await start(warmLocation ? {} : { BUNDLE_CACHE: "off", USER_STATE_CACHE_SECONDS: "0" });
      const first = await send("GET", `/users/${pick(regulars)}/recs`);
      recIds(first);
      (warmLocation ? cold : coldLocation).push(first.ms);
      coldTimings.push({ location: warmLocation ? "warm" : "cold", ms: round(first.ms), timing: serverTiming(first.res.headers.get("server-timing")) });
      console.log(
        `cold ${n + 1}: first recommendation of a fresh isolate in a ${warmLocation ? "warm" : "cold"} location ${round(first.ms)} ms (Server-Timing: ${JSON.stringify(serverTiming(first.res.headers.get("server-timing")))})`,
      );
    }

    console.log(
      JSON.stringify({
        injected,
        model: manifest.version,
        floor_p50_ms: floor.p50,
        floor_p99_ms: floor.p99,
        known_p50_ms: knownUser.p50,
        known_p99_ms: knownUser.p99,
        known_first_visit_p50_ms: firstVisit.p50,
        known_first_visit_p99_ms: firstVisit.p99,
        after_write_p50_ms: afterWrite.p50,
        after_write_p99_ms: afterWrite.p99,
        new_user_p50_ms: newUser.p50,
        new_user_p99_ms: newUser.p99,
        cold_first_rec_ms: round(quantile(cold, 0.5)),
        cold_runs_ms: cold.map((x) => round(x)),
        cold_location_first_rec_ms: round(quantile(coldLocation, 0.5)),
        cold_location_runs_ms: coldLocation.map((x) => round(x)),
        cold_server_timing: coldTimings,
        read_your_writes_violations: violations,
        write_read_pairs: o.pairs,
        replica_reads_per_request: { floor: floor.replica, known: knownUser.replica, known_first_visit: firstVisit.replica, new_user: newUser.replica },
        r2_calls_per_request: { floor: floor.r2, known: knownUser.r2, known_first_visit: firstVisit.r2, new_user: newUser.r2 },
        primary_reads_per_request: {
          floor: floor.primary,
          known: knownUser.primary,
          known_first_visit: firstVisit.primary,
          after_write: afterWrite.primary,
          new_user: newUser.primary,
        },
      }),
    );
  } finally {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
