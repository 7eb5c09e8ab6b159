// Per-user data in D1 (per_user "d1"): the statements publish runs, executed in SQLite (the
// engine D1 is), give back every user's rated list and history, a snapshot over 32 KiB spans
// parts, every statement stays under D1's 100 KB limit, a retry replaces rather than
// duplicates, and publishing loads the rows before it moves the pointer, refuses a target
// without D1 before uploading, and keeps only the served and previous versions' rows.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { BUNDLE_FILES, type Manifest, R2_POINTER, decodeRated, encodeRated, encodeUserRecords } from "../src/contract/artifacts.ts";
import { SNAPSHOT_PART_BYTES, SNAPSHOT_SELECT, VERSION_GONE_PART, decodeSnapshot, encodeSnapshot, joinSnapshotParts } from "../src/contract/user-snapshots.ts";
import { type Bundle, type R2BucketLike, type SnapshotTarget, bindingTarget, d1SnapshotTarget, publishBundle } from "../src/publish/publish.ts";
import { pruneStatement, snapshotStatements, versionLiteral } from "../src/publish/snapshot-sql.ts";
import { graphWithInputs } from "./tiny-bundle.ts";
import { Rng } from "../src/util/rng.ts";

// the snapshots table, and forgotten_users + audit_log (which publishing reads and appends to)
const MIGRATION = ["0002_snapshots.sql", "0003_trust.sql"].map((f) => readFileSync(`worker/migrations/${f}`, "utf8")).join("\n");

/** users with ids 3, 10, 11, ...: user 1 (id 10) rated 30,000 movies (120 KB as uint32: four parts). */
function d1Bundle(version: string, items = 70_000): Bundle {
  const rng = new Rng(5);
  const userIds = [3, 10, 11, 20, 21, 40];
  const rows = userIds.map((_, u) => {
    const n = u === 1 ? 30_000 : 1 + rng.int(60);
    const set = new Set<number>();
    while (set.size < n) set.add(rng.int(items));
    return [...set];
  });
  const indptr = [0];
  for (const r of rows) indptr.push(indptr[indptr.length - 1] + r.length);
  const history = rows.map((r) => r.slice(0, Math.ceil(r.length / 2)));
  const hptr = [0];
  for (const r of history) hptr.push(hptr[hptr.length - 1] + r.length);
  const files = new Map<string, Uint8Array>([
    // publish checks a graph takes what the Worker feeds it: this one declares only that
    [BUNDLE_FILES.model, graphWithInputs(["history", "k", "exclude"])],
    [BUNDLE_FILES.rated, encodeRated(userIds.length, items, indptr, rows.flat())],
    [BUNDLE_FILES.history, encodeRated(userIds.length, items, hptr, history.flat())],
    [BUNDLE_FILES.users, encodeUserRecords(userIds, { indptr }, { indptr: hptr })],
  ]);
  const info = (name: string) => ({ bytes: files.get(name)!.byteLength, sha256: createHash("sha256").update(files.get(name)!).digest("hex") });
  const manifest = {
    format: 1,
    version,
    created: new Date().toISOString(),
    model: "mf",
    recs: "history",
    per_user: "d1",
    max_user_id: 40,
    users: userIds.length,
    items,
    files: Object.fromEntries(["model", "rated", "history", "users"].map((k) => [k, info(BUNDLE_FILES[k as keyof typeof BUNDLE_FILES])])),
  } as unknown as Manifest;
  files.set(BUNDLE_FILES.manifest, new TextEncoder().encode(JSON.stringify(manifest)));
  return { manifest, files };
}

/** A SnapshotTarget over SQLite in memory, the way the D1 binding runs each statement. */
function sqliteTarget(db: DatabaseSync, log: string[] = []): SnapshotTarget {
  return {
    describe: "sqlite",
    async execute(statements) {
      for (const sql of statements) {
        log.push(sql.slice(0, 30));
        db.exec(sql);
      }
    },
  };
}

function readBack(db: DatabaseSync, version: string, id: number, items: number) {
  const parts = db.prepare(SNAPSHOT_SELECT).all(version, id) as { part: number; data: Uint8Array }[];
  if (parts.length === 0) return null;
  if (parts[0].part === VERSION_GONE_PART) return "version gone" as const;
  return { parts: parts.length, ...decodeSnapshot(joinSnapshotParts(parts.map((p) => p.data.slice().buffer as ArrayBuffer)), items) };
}

describe("snapshot statements", () => {
  it("round-trip every user's rated list and history through SQLite, a large one over several parts", () => {
    const b = d1Bundle("mf-1");
    const db = new DatabaseSync(":memory:");
    db.exec(MIGRATION);
    const counts = { users: 0, rows: 0, bytes: 0 };
    const statements = [...snapshotStatements(b.manifest, b.files, counts)];
    for (const sql of statements) {
      expect(sql.length).toBeLessThan(100_000);
      db.exec(sql);
    }
    const rated = decodeRated(b.files.get(BUNDLE_FILES.rated)!.slice().buffer as ArrayBuffer);
    const history = decodeRated(b.files.get(BUNDLE_FILES.history)!.slice().buffer as ArrayBuffer);
    [3, 10, 11, 20, 21, 40].forEach((id, u) => {
      const got = readBack(db, "mf-1", id, b.manifest.items);
      if (got === null || got === "version gone") throw new Error(`user ${id} was not read back`);
      expect(got.index).toBe(u);
      expect(Array.from(got.rated)).toEqual(Array.from(rated.indices.subarray(rated.indptr[u], rated.indptr[u + 1])));
      expect(Array.from(got.history)).toEqual(Array.from(history.indices.subarray(history.indptr[u], history.indptr[u + 1])));
      if (id === 10) expect(got.parts).toBe(Math.ceil((12 + 45_000 * 4) / SNAPSHOT_PART_BYTES));
    });
    // an id that is no user's: no rows; a version that is not there: the marker row
    expect(readBack(db, "mf-1", 4, b.manifest.items)).toBeNull();
    expect(readBack(db, "mf-0", 3, b.manifest.items)).toBe("version gone");
    expect(counts.users).toBe(6);
    expect(counts.rows).toBe((db.prepare("SELECT count(*) AS n FROM snapshots").get() as { n: number }).n);
    // several users share a statement: far fewer statements than rows
    expect(statements.length).toBeLessThan(counts.rows);
  });

  it("replace the version's rows when run again (a retried publish), and leave other versions alone", () => {
    const db = new DatabaseSync(":memory:");
    db.exec(MIGRATION);
    for (const v of ["mf-1", "mf-2", "mf-2"]) for (const sql of snapshotStatements(d1Bundle(v).manifest, d1Bundle(v).files)) db.exec(sql);
    const per = db.prepare("SELECT version, count(DISTINCT user_id) AS users FROM snapshots GROUP BY version ORDER BY version").all();
    expect(per).toEqual([
      { version: "mf-1", users: 6 },
      { version: "mf-2", users: 6 },
    ]);
    db.exec(pruneStatement(["mf-2"]));
    expect(db.prepare("SELECT DISTINCT version FROM snapshots").all()).toEqual([{ version: "mf-2" }]);
  });

  it("encode entries as uint16 for catalogues up to 65,536 items", () => {
    const bytes = encodeSnapshot(7, [1, 65535], [2], 65536);
    expect(bytes.byteLength).toBe(12 + 3 * 2);
    expect(decodeSnapshot(bytes.slice().buffer, 65536)).toMatchObject({ index: 7, rated: Uint16Array.of(1, 65535), history: Uint16Array.of(2) });
    expect(() => decodeSnapshot(bytes.slice(0, 16).buffer, 65536)).toThrow(/does not match its header/);
  });

  it("refuse a version id that cannot be a SQL literal", () => {
    expect(() => versionLiteral("mf-1'; DROP TABLE ratings; --")).toThrow(/characters/);
    expect(versionLiteral("mf-20261127T172649660Z-e6e569")).toBe("'mf-20261127T172649660Z-e6e569'");
  });
});

class MemoryBucket implements R2BucketLike {
  readonly objects = new Map<string, Uint8Array>();
  async get(key: string) {
    const o = this.objects.get(key);
    return o ? { etag: String(o.byteLength), arrayBuffer: async () => o.slice().buffer as ArrayBuffer } : null;
  }
  async put(key: string, value: Uint8Array) {
    this.objects.set(key, value.slice());
    return {};
  }
  async head(key: string) {
    const o = this.objects.get(key);
    return o ? { size: o.byteLength } : null;
  }
}

describe("publishing a per_user d1 bundle", () => {
  it("refuses a target without D1 before uploading anything", async () => {
    const bucket = new MemoryBucket();
    await expect(publishBundle(d1Bundle("mf-1"), bindingTarget(bucket, "memory"))).rejects.toThrow(/keeps its per-user data in D1.*nothing was uploaded/);
    expect(bucket.objects.size).toBe(0);
  });

  it("loads the rows before the pointer moves, and keeps the served and the pointer's previous versions' rows", async () => {
    const bucket = new MemoryBucket();
    const db = new DatabaseSync(":memory:");
    db.exec(MIGRATION);
    const pointerWhenLoaded: (string | null)[] = [];
    const sqlite = sqliteTarget(db);
    const target = {
      ...bindingTarget(bucket, "memory"),
      snapshots: {
        describe: "sqlite",
        async execute(statements: Iterable<string>) {
          const p = bucket.objects.get(R2_POINTER);
          pointerWhenLoaded.push(p ? JSON.parse(new TextDecoder().decode(p)).version : null);
          await sqlite.execute(statements);
        },
      },
    };
    for (const v of ["mf-1", "mf-2", "mf-3"]) await publishBundle(d1Bundle(v), target);
    // each load (then each prune) saw the previous version still served
    // (then the audit row, after the pointer moved)
    expect(pointerWhenLoaded).toEqual([null, "mf-1", "mf-1", "mf-1", "mf-2", "mf-2", "mf-2", "mf-3", "mf-3"]);
    // the pointer keeps the versions before as fallbacks: their rows stay (KEEP_PREVIOUS of them)
    expect(db.prepare("SELECT DISTINCT version FROM snapshots ORDER BY version").all()).toEqual([
      { version: "mf-1" },
      { version: "mf-2" },
      { version: "mf-3" },
    ]);
  });

  it("never loads a forgotten user's rows, also when a model trained before the deletion is published again", async () => {
    const bucket = new MemoryBucket();
    const db = new DatabaseSync(":memory:");
    db.exec(MIGRATION);
    const target = { ...bindingTarget(bucket, "memory"), snapshots: sqliteTarget(db) };
    await publishBundle(d1Bundle("mf-1"), target);
    const users = (v: string) =>
      (db.prepare("SELECT DISTINCT user_id AS id FROM snapshots WHERE version = ? ORDER BY user_id").all(v) as { id: number }[]).map((r) => r.id);
    expect(users("mf-1")).toEqual([3, 10, 11, 20, 21, 40]);
    // users 10 and 40 ask to be forgotten (what DELETE /users/:id writes)
    db.exec("INSERT INTO forgotten_users (user_id, forgotten_at) VALUES (10, 1), (40, 1)");
    await publishBundle(d1Bundle("mf-2"), target);
    expect(users("mf-2")).toEqual([3, 11, 20, 21]);
    // a rollback to the older model, trained with them
    await publishBundle(d1Bundle("mf-0"), target, { force: true });
    expect(users("mf-0")).toEqual([3, 11, 20, 21]);
  });

  it("appends a model.publish row by the cli to the audit log for each publication, and none for a no-op", async () => {
    const bucket = new MemoryBucket();
    const db = new DatabaseSync(":memory:");
    db.exec(MIGRATION);
    const target = { ...bindingTarget(bucket, "memory"), snapshots: sqliteTarget(db) };
    const { pointer } = await publishBundle(d1Bundle("mf-1"), target);
    await publishBundle(d1Bundle("mf-2"), target);
    await publishBundle(d1Bundle("mf-2"), target); // already served: nothing written
    const rows = db.prepare("SELECT at, actor, action, subject, detail FROM audit_log ORDER BY id").all() as {
      at: number;
      actor: string;
      action: string;
      subject: string;
      detail: string;
    }[];
    expect(rows.map((r) => [r.actor, r.action, r.subject])).toEqual([
      ["cli", "model.publish", "mf-1"],
      ["cli", "model.publish", "mf-2"],
    ]);
    expect(rows[0].at).toBe(Date.parse(pointer.published));
    expect(JSON.parse(rows[0].detail)).toEqual({ model: "mf", published: pointer.published });
  });

  it("still publishes when the audit log cannot be written, and says so", async () => {
    const bucket = new MemoryBucket();
    const db = new DatabaseSync(":memory:");
    db.exec(MIGRATION);
    db.exec("DROP TABLE audit_log");
    const lines: string[] = [];
    const { changed } = await publishBundle(
      d1Bundle("mf-1"),
      { ...bindingTarget(bucket, "memory"), snapshots: sqliteTarget(db) },
      { log: (l) => lines.push(l) },
    );
    expect(changed).toBe(true);
    expect(lines.some((l) => /could not add the publication to the audit log/.test(l))).toBe(true);
  });
});

describe("the D1 snapshot target", () => {
  /** A D1 binding whose first `lockedTimes` batches fail with `message`. */
  function flakyDb(lockedTimes: number, message: string) {
    const done: string[][] = [];
    let calls = 0;
    return {
      done,
      calls: () => calls,
      db: {
        prepare: (sql: string) => sql,
        batch: async (statements: never[]) => {
          calls++;
          if (calls <= lockedTimes) throw new Error(message);
          done.push(statements as unknown as string[]);
          return [];
        },
      },
    };
  }

  it("sends the statements in batches, and tries a batch again while the local SQLite file is locked", async () => {
    const flaky = flakyDb(2, "D1_ERROR: database is locked: SQLITE_BUSY");
    await d1SnapshotTarget(flaky.db, "flaky", { perBatch: 2 }).execute(["a", "b", "c"]);
    expect(flaky.done).toEqual([["a", "b"], ["c"]]);
    expect(flaky.calls()).toBe(4);
  });

  it("does not retry any other failure", async () => {
    const broken = flakyDb(1, "D1_ERROR: no such table: snapshots");
    await expect(d1SnapshotTarget(broken.db, "broken").execute(["a"])).rejects.toThrow(/no such table/);
    expect(broken.calls()).toBe(1);
  });
});
