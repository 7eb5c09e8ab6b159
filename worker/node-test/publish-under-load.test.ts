// Publishing while the Worker serves, as a user does it: `wrangler dev` on 127.0.0.1 (a free
// port, its own local state) answering 16 connections of reads and rating writes while 8 new
// versions are published back to back through publishLocal, the code `npm run publish -- --local`
// runs. Every other version keeps its per-user data in D1, so those publications write to the
// same D1 file as the Worker's rating writes. Every publication must succeed, the Worker must end on the last one, every answer must
// be JSON and none a 5xx, and every rating answered 2xx must read back afterwards. Bounded: the
// traffic stops once the publications are done and the Worker serves the last of them.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_FILES, type IdMaps } from "../../training/src/contract/artifacts.ts";
import { localD1File, d1Binding } from "../../training/src/publish/d1-migrations.ts";
import { publishLocal } from "../../training/src/publish/local.ts";
import type { Bundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { type DevServer, freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { restamped, startTraffic } from "../bench/publish-traffic.ts";
import { fixtureBundleDir } from "../test/global-setup.ts";

const TOKEN = "publish-under-load-token";
const PUBLICATIONS = 8;
const CONNECTIONS = 16;

let state: string;
let server: DevServer;
/** The fixture with its per-user data in the bundle, and the same model with it in D1. */
let bases: Bundle[];
let ids: IdMaps;
/** What each publishLocal call logged, by publication. */
const logs: string[][] = [];

async function servedVersion(url: string): Promise<string | null> {
  const res = await fetch(`${url}/health`);
  await res.arrayBuffer();
  return res.headers.get("x-model-version");
}

describe("publishing while wrangler dev serves reads and rating writes", () => {
  beforeAll(async () => {
    state = mkdtempSync(join(tmpdir(), "edgerec-publish-load-"));
    const dir = await fixtureBundleDir("fixture-load", 5);
    bases = [readBundle(dir), readBundle(await fixtureBundleDir("fixture-load-d1", 5, "lightgcn", "d1"))];
    ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
    // the first publication meets a local D1 that does not exist yet: it applies the migrations
    const first: string[] = [];
    await publishLocal(restamped(bases[0], "load-0"), { persistTo: state, log: (l) => first.push(l) });
    logs.push(first);
    server = await startWranglerDev(await freePort(), {
      quiet: true,
      persistTo: state,
      inspectorPort: await freePort(),
      vars: { API_TOKEN: TOKEN, MODEL_REFRESH_SECONDS: "1" },
      localTraces: false,
    });
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  it("migrates once, when the database is new, and finds it migrated by a read-only look after", async () => {
    expect(logs[0].some((l) => /applying 0001_ratings\.sql, 0002_snapshots\.sql/.test(l))).toBe(true);
    // the file the read-only check reads is the one wrangler created (miniflare's naming held)
    const file = localD1File((await d1Binding()).localId, state);
    expect(readFileSync(file).byteLength).toBeGreaterThan(0);
  });

  it(`publishes ${PUBLICATIONS} versions back to back under ${CONNECTIONS} connections: all succeed, every answer JSON and not 5xx, no 2xx rating lost`, async () => {
    const traffic = startTraffic({ url: server.url, token: TOKEN, connections: CONNECTIONS, knownUsers: ids.users, movies: ids.items });
    const failures: string[] = [];
    let last = "";
    for (let n = 1; n <= PUBLICATIONS; n++) {
      last = `load-${n}`;
      const lines: string[] = [];
      try {
        const { changed } = await publishLocal(restamped(bases[n % 2], last), { persistTo: state, log: (l) => lines.push(l) });
        if (!changed) failures.push(`${last}: not published (already served?)`);
      } catch (err) {
        failures.push(`${last}: ${(err as Error).message}`);
      }
      logs.push(lines);
    }
    // the Worker takes the last version within its refresh interval, still under load
    let served = await servedVersion(server.url);
    for (let tries = 0; served !== last && tries < 120; tries++) {
      await new Promise((r) => setTimeout(r, 250));
      served = await servedVersion(server.url);
    }
    const report = await traffic.stop();
    console.log(`publish under load: ${PUBLICATIONS - failures.length} of ${PUBLICATIONS} published; ${JSON.stringify(report)}`);

    expect(failures).toEqual([]);
    expect(served).toBe(last);
    // no publication after the first touched the migrations: nothing was pending
    for (const lines of logs.slice(1)) expect(lines.filter((l) => /applying .*migrat|\.sql/.test(l))).toEqual([]);
    // and half of them loaded their users' snapshots into the D1 the Worker was writing to
    expect(logs.slice(1).filter((lines) => lines.some((l) => /loaded \d+ users' snapshots/.test(l)))).toHaveLength(PUBLICATIONS / 2);
    expect(report.requests).toBeGreaterThan(PUBLICATIONS * CONNECTIONS);
    expect(report.examples).toEqual([]);
    expect(report.non_json).toBe(0);
    expect(report.http_5xx).toBe(0);
    expect(report.refused_without_retry_after).toBe(0);
    expect(report.writes_2xx).toBeGreaterThan(0);
    expect(report.writes_lost).toBe(0);
  }, 600_000);
});
