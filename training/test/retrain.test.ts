// The retraining loop against an in-memory R2 and a SQLite D1 built from worker/migrations (the
// real SQL of the records and the live tables): the gate refuses a worse candidate and leaves
// the pointer, a dry run reports and trains nothing, a forgotten user's ratings never reach the
// candidate's training data, every publish is recorded, and rollback serves the previous version.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { beforeAll, describe, expect, it } from "vitest";
import { type Manifest, R2_POINTER } from "../src/contract/artifacts.ts";
import type { Dataset } from "../src/data/parse.ts";
import { exportBundle, versionFor } from "../src/export/bundle.ts";
import type { TrainedState } from "../src/export/model-state.ts";
import { ease } from "../src/models/ease.ts";
import { mf } from "../src/models/lightgcn.ts";
import type { ModelFactory, Params } from "../src/models/recommender.ts";
import { runPipeline } from "../src/pipeline/pipeline.ts";
import { readSplit } from "../src/pipeline/split-files.ts";
import { trainModel } from "../src/pipeline/train-model.ts";
import { bindingTarget, publishBundle } from "../src/publish/publish.ts";
import { readBundle } from "../src/publish/read-bundle.ts";
import { rowOf } from "../src/protocol/csr.ts";
import { DEFAULT_TOLERANCE } from "../src/retrain/gate.ts";
import { mergeLive } from "../src/retrain/merge.ts";
import type { Merged } from "../src/retrain/merge.ts";
import { readRecords } from "../src/retrain/records.ts";
import { localD1Query, readForgotten, readLiveRatings, remoteD1Query } from "../src/retrain/live-data.ts";
import { d1Binding, localD1File } from "../src/publish/d1-migrations.ts";
import { REFUSED_EXIT, type RetrainOptions, exitStatusOf, retrain } from "../src/retrain/retrain.ts";
import { rollback } from "../src/retrain/rollback.ts";
import type { Store } from "../src/retrain/store.ts";
import { tasteGroupDataset } from "./taste-groups.ts";
import { MemoryBucket } from "./memory-bucket.ts";

/** 120 users rating 15..40 of 90 movies in three taste groups (what EASE learns well). */
const smallDataset = (): Dataset => tasteGroupDataset((rng) => 3 + rng.int(3));

/** A D1 as the Worker's migrations make it, and R2 beside it. */
function memoryStore() {
  const db = new DatabaseSync(":memory:");
  const dir = join(import.meta.dirname, "../../worker/migrations");
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith(".sql"))
    .sort())
    db.exec(readFileSync(join(dir, f), "utf8"));
  const bucket = new MemoryBucket();
  const snapshots = {
    describe: "test D1",
    execute: async (statements: Iterable<string>) => {
      for (const sql of statements) db.exec(sql);
    },
  };
  const store: Store = {
    describe: "test D1",
    query: async (sql) => db.prepare(sql).all() as Record<string, unknown>[],
    migrate: async () => {},
    openTarget: async () => ({ ...bindingTarget(bucket, "test R2"), snapshots }),
  };
  return { db, bucket, store };
}

/** Trains `factory` on the merged split and exports it, as the default trainer does with the registry's model. */
function trainer(factory: ModelFactory, params: Params, seen: Merged[] = []): NonNullable<RetrainOptions["train"]> {
  return async (_model, merged, dir) => {
    seen.push(merged);
    const kept: { state?: TrainedState } = {};
    const metrics = await trainModel(factory, merged.split, { artifactsDir: dir, tune: false, overrides: params, onState: (s) => (kept.state = s) });
    return exportBundle(metrics, kept.state as TrainedState, { split: merged.split, catalogue: merged.catalogue }, dir, { version: versionFor(factory.name) });
  };
}
const goodTrainer = (seen?: Merged[]) => trainer(ease, { lambda: 50 }, seen);
// one epoch of a 2-dimensional MF: far worse than EASE on the same data
const poorTrainer = () => trainer(mf, { dim: 2, epochs: 1, batch: 512, eval_every: 1, threads: 1 });

describe("npm run retrain", () => {
  let artifacts: string;
  let served: Manifest;
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    artifacts = mkdtempSync(join(tmpdir(), "edgerec-retrain-"));
    const run = await runPipeline({
      data: smallDataset(),
      dataset: "ml-100k",
      protocol: "recbole",
      seed: 4,
      models: [ease],
      params: { lambda: 50 },
      tune: false,
      artifacts,
      bundle: { version: () => "ease-served" },
    });
    served = run.manifests.get("ease") as Manifest;
  });

  /** A store serving the pipeline's EASE bundle, with live ratings of users 1..30 (one per user, a movie of their group). */
  async function servingStore() {
    const m = memoryStore();
    await publishBundle(readBundle(join(artifacts, "ease")), { ...bindingTarget(m.bucket, "test R2") });
    for (let u = 1; u <= 30; u++)
      for (let k = 0; k < 3; k++) m.db.exec(`INSERT OR IGNORE INTO ratings VALUES (${u}, ${1 + 3 * ((u * 7 + k * 11) % 30) + (u % 3)}, 5, ${now - 100 + u})`);
    return m;
  }
  const options = (over: Partial<RetrainOptions> = {}): RetrainOptions => ({
    artifacts,
    tolerance: DEFAULT_TOLERANCE,
    recentShare: 0.3,
    dryRun: false,
    actor: "test",
    ...over,
  });

  it("--dry-run reports live_ratings, deleted_users and the data window, and trains nothing", async () => {
    const { db, store } = await servingStore();
    db.exec(`INSERT INTO forgotten_users VALUES (7, ${now}), (8, ${now})`);
    let trained = false;
    const outcome = await retrain(
      store,
      options({
        dryRun: true,
        train: async () => {
          trained = true;
          throw new Error("a dry run trains nothing");
        },
      }),
    );
    expect(trained).toBe(false);
    expect(outcome.kind).toBe("dry-run");
    if (outcome.kind !== "dry-run") return;
    const line = JSON.parse(JSON.stringify(outcome.summary)) as Record<string, unknown>;
    expect(line.live_ratings).toBe(90);
    expect(line.deleted_users).toBe(2);
    expect(line.window).toEqual({
      from: new Date((now - 99) * 1000).toISOString(),
      to: new Date((now - 70) * 1000).toISOString(),
      recent_from: expect.any(String),
    });
    expect(line.served).toBe(served.version);
    expect(existsSync(join(artifacts, "retrain"))).toBe(false);
  });

  it("refuses a worse candidate with exit status 3 and leaves the served version and the records as they were", async () => {
    const { bucket, store } = await servingStore();
    const before = bucket.objects.get(R2_POINTER);
    const outcome = await retrain(store, options({ train: poorTrainer() }));
    expect(outcome.kind).toBe("refused");
    expect(exitStatusOf(outcome)).toBe(REFUSED_EXIT);
    expect(REFUSED_EXIT).toBe(3);
    if (outcome.kind !== "refused") return;
    const holdout = outcome.verdict.checks.find((c) => c.name === "holdout");
    expect(holdout?.users).toBeGreaterThan(50);
    expect(holdout?.delta).toBeLessThan(-DEFAULT_TOLERANCE);
    expect(bucket.objects.get(R2_POINTER)).toBe(before);
    expect(bucket.pointer()?.version).toBe(served.version);
    expect(await readRecords(store.query)).toEqual([]);
  });

  it("leaves no trace of a forgotten user in the candidate's training data; their ratings after the deletion make a new user", () => {
    const base = readSplit(artifacts);
    const user = 12;
    const row = base.split.userIds.indexOf(user);
    expect(rowOf(base.split.train, row).length).toBeGreaterThan(0);
    const other = base.split.userIds.indexOf(13);
    const unseen = base.split.itemIds.find((_, i) => !rowOf(base.catalogue.rated, other).includes(i)) as number;
    const live = [
      { user, movie: 5, rating: 5, ratedAt: now - 50 },
      { user, movie: 6, rating: 4, ratedAt: now - 40 },
      { user: 13, movie: unseen, rating: 5, ratedAt: now - 30 },
    ];
    const merged = mergeLive(base, live, [{ user, forgottenAt: now - 45 }], { recentShare: 0 });
    const at = merged.split.userIds.indexOf(user);
    // only the rating made after the deletion: a new user with one movie
    expect(Array.from(rowOf(merged.split.train, at), (i) => merged.split.itemIds[i])).toEqual([6]);
    expect(Array.from(rowOf(merged.catalogue.rated, at), (i) => merged.split.itemIds[i])).toEqual([6]);
    expect(merged.split.valid && rowOf(merged.split.valid, at).length).toBe(0);
    expect(rowOf(merged.split.test, at).length).toBe(0);
    expect(merged.holdout.users.some((u) => u.user === user)).toBe(false);
    const gone = mergeLive(base, live, [{ user, forgottenAt: now }], { recentShare: 0 });
    expect(Array.from(gone.split.userIds)).not.toContain(user);
    expect(gone.counts.users_removed).toBe(1);
    expect(gone.split.counts.train).toBe(base.split.counts.train - rowOf(base.split.train, row).length + 1);
  });

  it("trains without a forgotten user, publishes a candidate that is not worse, records it, and rollback serves the previous version", async () => {
    const { db, bucket, store } = await servingStore();
    db.exec(`INSERT INTO forgotten_users VALUES (21, ${now})`);
    const seen: Merged[] = [];
    const outcome = await retrain(store, options({ train: goodTrainer(seen) }));
    expect(outcome.kind).toBe("published");
    expect(exitStatusOf(outcome)).toBe(0);
    expect(Array.from(seen[0].split.userIds)).not.toContain(21);
    expect(seen[0].counts.live_trained).toBeGreaterThan(0);
    if (outcome.kind !== "published") return;
    expect(bucket.pointer()?.version).toBe(outcome.candidate);
    const records = await readRecords(store.query);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ version: outcome.candidate, action: "publish", previous: served.version, actor: "test" });
    expect((records[0].window as { live_trained: number }).live_trained).toBe(seen[0].counts.live_trained);

    const back = await rollback(store, { actor: "ops" });
    expect(back).toEqual({ from: outcome.candidate, to: served.version });
    expect(bucket.pointer()?.version).toBe(served.version);
    const after = await readRecords(store.query);
    expect(after[0]).toMatchObject({ version: served.version, action: "rollback", previous: outcome.candidate, actor: "ops" });
  });

  it("rollback with no earlier version refuses and changes nothing", async () => {
    const { bucket, store } = await servingStore();
    const before = bucket.objects.get(R2_POINTER);
    await expect(rollback(store, { actor: "ops" })).rejects.toThrow(/no version to roll back to/);
    expect(bucket.objects.get(R2_POINTER)).toBe(before);
  });
});

describe("reading live data from D1", () => {
  it("reads the local D1's SQLite file read-only, and an unmigrated one as empty", async () => {
    const persist = mkdtempSync(join(tmpdir(), "edgerec-retrain-state-"));
    const { query } = await localD1Query(persist);
    expect(await readLiveRatings(query)).toEqual([]);
    const file = localD1File((await d1Binding()).localId, persist);
    mkdirSync(dirname(file), { recursive: true });
    const db = new DatabaseSync(file);
    db.exec("CREATE TABLE ratings (user_id INTEGER, movie_id INTEGER, rating REAL, rated_at INTEGER)");
    db.exec("INSERT INTO ratings VALUES (3, 10, 4.5, 100), (2, 11, NULL, 50)");
    db.close();
    expect(await readLiveRatings(query)).toEqual([
      { user: 2, movie: 11, rating: null, ratedAt: 50 },
      { user: 3, movie: 10, rating: 4.5, ratedAt: 100 },
    ]);
    expect(await readForgotten(query)).toEqual([]);
  });

  it("reads the remote D1 through `wrangler d1 execute --remote --json`", async () => {
    const calls: string[][] = [];
    // a stand-in for wrangler: its banner, then the JSON array it prints
    const wrangler = async (args: string[]) => {
      calls.push(args);
      if (args.at(-1)?.includes("forgotten_users")) throw new Error("D1_ERROR: no such table: forgotten_users");
      return `wrangler 4\n[{"results":[{"user_id":5,"movie_id":7,"rating":5,"rated_at":123}],"success":true}]`;
    };
    const { query, describe: where } = await remoteD1Query(wrangler);
    expect(where).toMatch(/remote/);
    expect(await readLiveRatings(query)).toEqual([{ user: 5, movie: 7, rating: 5, ratedAt: 123 }]);
    expect(await readForgotten(query)).toEqual([]);
    expect(calls[0].slice(0, 5)).toEqual(["d1", "execute", (await d1Binding()).databaseName, "--remote", "--json"]);
    const failing = await remoteD1Query(async () => {
      throw new Error("Authentication error");
    });
    await expect(readLiveRatings(failing.query)).rejects.toThrow(/could not read D1 database .*Authentication error/);
  });
});
