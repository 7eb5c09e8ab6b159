// npm run bench:profile: where a route's time goes inside the Worker. Publishes the bundle to a
// temporary local R2, starts `wrangler dev` on 127.0.0.1 with its inspector, warms the isolate up,
// then, per scenario, runs V8's sampling CPU profiler over a bounded run of sequential requests
// and prints the functions that took the time (self and inclusive) and how much of each request
// was spent waiting (idle: D1, the cache, R2). The isolate only: workerd's local D1 and cache run
// beside it and are not in the profile (their cost shows as idle here, and in bench:serve's server
// CPU). A benchmark: it asserts nothing.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { BUNDLE_FILES, type IdMaps } from "../../training/src/contract/artifacts.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { readManifest } from "../../training/src/publish/read-bundle.ts";
import { ensureDevToken, migrateLocalD1 } from "../../training/src/serve/local-setup.ts";
import { freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { Rng } from "../../training/src/util/rng.ts";
import { knownUserIds } from "./bundle-users.ts";
import { publishToLocalR2 } from "./local-publish.ts";
import { type ProfileSummary, summarizeProfile } from "./cpu-profile.ts";
import { IsolateInspector } from "./isolate-memory.ts";

const SCENARIOS = ["floor", "known", "known_repeat", "post_recs"] as const;
type Scenario = (typeof SCENARIOS)[number];

const program = new Command("bench:profile")
  .description("CPU profile of the Worker isolate under wrangler dev (127.0.0.1) per scenario: which functions take a request's time, and how long it waits.")
  .option("--model <name>", "exported model to serve", "blend")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--scenarios <list>", `comma-separated, of ${SCENARIOS.join(", ")}`, SCENARIOS.join(","))
  .option("--requests <n>", "requests per scenario, one at a time", integer, 1000)
  .option("--top <n>", "functions listed per table", integer, 20);
program.parse();
const o = program.opts<{ model: string; artifacts: string; scenarios: string; requests: number; top: number }>();
const scenarios = o.scenarios.split(",").map((s) => s.trim()) as Scenario[];
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`--scenarios: unknown scenario "${s}"; use ${SCENARIOS.join(", ")}`);

const round = (x: number): number => Math.round(x * 100) / 100;

await runCli(async () => {
  const dir = join(o.artifacts, o.model);
  const ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
  ids.users = knownUserIds(dir, ids);
  const persist = mkdtempSync(join(tmpdir(), "edgerec-profile-"));
  const token = ensureDevToken();
  let server: Awaited<ReturnType<typeof startWranglerDev>> | null = null;
  let inspector: IsolateInspector | null = null;
  try {
    await migrateLocalD1("DB", persist);
    await publishToLocalR2(dir, persist);
    const inspectorPort = await freePort();
    server = await startWranglerDev(await freePort(), { quiet: true, readyWithoutModel: true, persistTo: persist, inspectorPort, localTraces: false });
    inspector = await IsolateInspector.connect(inspectorPort);
    const url = server.url;
    console.log(`profiling ${readManifest(dir).version} under wrangler dev at ${url}`);
    const rng = new Rng(11);
    const regulars = Array.from({ length: 50 }, () => ids.users[rng.int(ids.users.length)]);
    const history = Array.from(new Set(Array.from({ length: 20 }, () => ids.items[rng.int(ids.items.length)]))).map((movieId) => ({ movieId, rating: 5 }));
    const request = (s: Scenario): { path: string; init?: RequestInit } => {
      if (s === "floor") return { path: "/__edgerec_floor" };
      if (s === "known") return { path: `/users/${ids.users[rng.int(ids.users.length)]}/recs` };
      if (s === "known_repeat") return { path: `/users/${regulars[rng.int(regulars.length)]}/recs` };
      return { path: "/recs", init: { method: "POST", body: JSON.stringify({ history }), headers: { "content-type": "application/json" } } };
    };
    const send = async (s: Scenario): Promise<number> => {
      const { path, init } = request(s);
      const t = performance.now();
      const res = await fetch(`${url}${path}`, { ...init, headers: { ...(init?.headers ?? {}), authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status >= 500 || (s !== "floor" && res.status !== 200)) throw new Error(`${s}: ${path} answered ${res.status}`);
      return performance.now() - t;
    };
    // the first request loads the model; then JIT and every regular's state warm
    for (let n = 0; n < 200; n++) await send(n % 2 === 0 ? "known" : "known_repeat");
    for (const user of regulars) await fetch(`${url}/users/${user}/recs`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.arrayBuffer());

    const results: Record<string, ProfileSummary & { requests: number; p50_ms: number; per_request: Record<string, number> }> = {};
    for (const s of scenarios) {
      await inspector.startProfiling();
      const ms: number[] = [];
      for (let n = 0; n < o.requests; n++) ms.push(await send(s));
      const summary = summarizeProfile(await inspector.stopProfiling(), o.top);
      ms.sort((a, b) => a - b);
      const per = (x: number): number => round(x / o.requests);
      const perRequest = {
        busy_ms: per(summary.total_ms - summary.idle_ms),
        idle_ms: per(summary.idle_ms),
        wasm_ms: per(summary.wasm_ms),
        gc_ms: per(summary.gc_ms),
        program_ms: per(summary.program_ms),
      };
      results[s] = { requests: o.requests, p50_ms: round(ms[Math.floor(ms.length / 2)]), per_request: perRequest, ...summary };
      console.log(`\n${s}: ${o.requests} requests, client p50 ${results[s].p50_ms} ms; per request in the isolate: ${JSON.stringify(perRequest)}`);
      console.log("  self ms per request:");
      for (const f of summary.self) console.log(`    ${per(f.ms).toFixed(3).padStart(8)}  ${f.name}`);
      console.log("  inclusive ms per request:");
      for (const f of summary.inclusive) console.log(`    ${per(f.ms).toFixed(3).padStart(8)}  ${f.name}`);
    }
    console.log(
      JSON.stringify({
        bench: "profile",
        model: readManifest(dir).version,
        scenarios: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, { requests: r.requests, p50_ms: r.p50_ms, ...r.per_request }])),
      }),
    );
  } finally {
    inspector?.close();
    await server?.stop();
    rmSync(persist, { recursive: true, force: true });
  }
});
