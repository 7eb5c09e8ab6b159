// npm run bench:publish: publishing as a user does it while the Worker serves. `wrangler dev` on
// 127.0.0.1 (its own local state in a temporary folder) answers a fixed number of connections of
// reads and rating writes while `npm run publish -- --local` runs in a separate process, a new
// version every --every seconds, --publications in all. Counts the publications that succeeded,
// the answers that were not JSON or were 5xx, and the 2xx rating writes not read back at the end.
// The bundle is artifacts/<model>/ when --model is given (a real trained model), else the small
// fixture the Worker tests use. Bounded: it stops once the last publication is served.
// A benchmark: it asserts nothing. Ends with one JSON line.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Command, Option } from "commander";
import { BUNDLE_FILES, type IdMaps } from "../../training/src/contract/artifacts.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { publishLocal } from "../../training/src/publish/local.ts";
import type { Bundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { fixtureBundleDir } from "../test/global-setup.ts";
import { knownUserIds } from "./bundle-users.ts";
import { restamped, startTraffic } from "./publish-traffic.ts";

const run = promisify(execFile);

const program = new Command("bench:publish")
  .description(
    "Publish new versions with `npm run publish -- --local` (a separate process each) while wrangler dev on 127.0.0.1 serves reads and rating writes; counts failed publications, non-JSON and 5xx answers, and lost 2xx writes.",
  )
  .option("--model <name>", "exported model under --artifacts to publish (default: the Worker tests' small fixture bundle)")
  .option("--artifacts <dir>", "artifacts folder of --model", "artifacts")
  .option("--publications <n>", "versions to publish", integer, 8)
  .option("--every <s>", "seconds from one publication's start to the next", integer, 10)
  .option("--connections <n>", "concurrent connections of traffic", integer, 16)
  .option("--refresh <s>", "MODEL_REFRESH_SECONDS given to the Worker", integer, 2)
  .addOption(
    new Option("--per-user <store>", "where the fixture keeps its per-user data: d1 makes every publication write to the D1 the Worker writes ratings to")
      .choices(["bundle", "d1"])
      .default("bundle"),
  );
program.parse();
const o = program.opts<{
  model?: string;
  artifacts: string;
  publications: number;
  every: number;
  connections: number;
  refresh: number;
  perUser: "bundle" | "d1";
}>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TOKEN = "bench-publish-token";

/** Writes the bundle as an artifacts folder the publish CLI reads (artifacts/<model>/). */
function writeBundle(bundle: Bundle, artifacts: string, model: string): void {
  const dir = join(artifacts, model);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of bundle.files) writeFileSync(join(dir, name), bytes);
}

await runCli(async () => {
  const started = performance.now();
  const dir = o.model ? join(o.artifacts, o.model) : await fixtureBundleDir("fixture-bench-publish", 5, "lightgcn", o.perUser === "d1" ? "d1" : undefined);
  const base = readBundle(dir);
  const ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
  const knownUsers = knownUserIds(dir, ids);
  const scratch = mkdtempSync(join(tmpdir(), "edgerec-bench-publish-"));
  const state = join(scratch, "state");
  const artifacts = join(scratch, "artifacts");
  const model = "bench";
  console.log(`bundle ${base.manifest.version} from ${dir}; local state in ${state}`);
  // the served version before the traffic starts (this one applies the migrations)
  await publishLocal(restamped(base, `${base.manifest.version}-pub0-${Date.now()}`), { persistTo: state, log: (l) => console.log(l) });
  const server = await startWranglerDev(await freePort(), {
    quiet: true,
    persistTo: state,
    inspectorPort: await freePort(),
    vars: { API_TOKEN: TOKEN, MODEL_REFRESH_SECONDS: String(o.refresh) },
    localTraces: false,
  });
  const outcomes: { version: string; ok: boolean; seconds: number; error?: string }[] = [];
  let traffic: ReturnType<typeof startTraffic> | null = null;
  const loadStarted = performance.now();
  try {
    traffic = startTraffic({ url: server.url, token: TOKEN, connections: o.connections, knownUsers, movies: ids.items });
    let last = "";
    for (let n = 1; n <= o.publications; n++) {
      // one publication every `every` seconds, counted from the traffic's start
      const due = loadStarted + n * o.every * 1000;
      await sleep(Math.max(0, due - performance.now()));
      last = `${base.manifest.version}-pub${n}-${Date.now()}`;
      writeBundle(restamped(base, last), artifacts, model);
      const t = performance.now();
      try {
        // exactly what a user runs from another terminal: `npm run publish -- --local`
        await run("npx", ["tsx", "training/src/cli/publish.ts", "--local", "--persist-to", state, "--artifacts", artifacts, "--model", model], {
          maxBuffer: 16 * 1024 * 1024,
        });
        outcomes.push({ version: last, ok: true, seconds: (performance.now() - t) / 1000 });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        outcomes.push({ version: last, ok: false, seconds: (performance.now() - t) / 1000, error: (e.stderr || e.message).trim().slice(-600) });
      }
      const r = outcomes[outcomes.length - 1];
      console.log(`publication ${n}: ${r.ok ? "published" : "FAILED"} ${last} in ${r.seconds.toFixed(1)} s${r.error ? `: ${r.error}` : ""}`);
    }
    // still under load until the Worker serves the last version (or a minute passes)
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const res = await fetch(`${server.url}/health`);
      await res.arrayBuffer();
      if (res.headers.get("x-model-version") === last) break;
      await sleep(250);
    }
  } finally {
    const report = traffic ? await traffic.stop() : null;
    const seconds = (performance.now() - loadStarted) / 1000;
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
    if (report) {
      if (report.examples.length > 0) console.log(`unexpected answers (first ${report.examples.length}):\n  ${report.examples.join("\n  ")}`);
      console.log(`statuses ${JSON.stringify(report.statuses)}; writes ${report.writes} (2xx ${report.writes_2xx}, refused ${report.writes_refused})`);
      console.log(
        JSON.stringify({
          bundle: o.model ? `${o.artifacts}/${o.model} (${base.manifest.version})` : "fixture",
          per_user: base.manifest.per_user ?? "bundle",
          connections: o.connections,
          every_s: o.every,
          publications: outcomes.length,
          succeeded: outcomes.filter((r) => r.ok).length,
          publish_s: outcomes.map((r) => Math.round(r.seconds * 10) / 10),
          requests: report.requests,
          non_json: report.non_json,
          http_5xx: report.http_5xx,
          writes: report.writes,
          writes_2xx: report.writes_2xx,
          writes_refused: report.writes_refused,
          writes_lost: report.writes_lost,
          seconds: Math.round(seconds * 10) / 10,
          total_seconds: Math.round((performance.now() - started) / 100) / 10,
        }),
      );
    }
  }
});
