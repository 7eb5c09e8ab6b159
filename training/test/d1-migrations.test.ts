// Which D1 migrations publishing applies, and when: only pending ones, found locally by reading
// the database file read-only and remotely by one SELECT; a busy local file retried with bounded
// backoff, and an error naming the holder once the retries are spent. Wrangler is a fake here
// (what it was asked to run is recorded); the real wrangler's file naming is checked by
// worker/node-test/publish-under-load.test.ts.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { StillBusyError, isBusy, retryWhileBusy } from "../src/publish/busy-retry.ts";
import {
  appliedInFile,
  d1Binding,
  localD1File,
  migrateLocal,
  migrateRemote,
  migrationNames,
  pendingOf,
  type WranglerRunner,
} from "../src/publish/d1-migrations.ts";

const BUSY_MESSAGE =
  "workerd/util/sqlite.c++:1827: failed: SQLite failed; database is locked: SQLITE_BUSY (extended: SQLITE_BUSY_SNAPSHOT) ... Failed to get session commit token: internal error";
const fast = { baseDelayMs: 1, maxDelayMs: 2 };

/** A local state folder whose D1 file records these migrations as applied. */
async function stateWith(applied: string[]): Promise<string> {
  const state = mkdtempSync(join(tmpdir(), "edgerec-migrations-"));
  const file = localD1File((await d1Binding()).localId, state);
  mkdirSync(dirname(file), { recursive: true });
  const db = new DatabaseSync(file);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)");
  for (const name of applied) db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").run(name);
  db.close();
  return state;
}

/** A fake wrangler: records each call, answers from `answer`. */
function fakeWrangler(answer: (args: string[], call: number) => string): { run: WranglerRunner; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    run: async (args) => {
      calls.push(args);
      return answer(args, calls.length);
    },
  };
}

describe("D1 migrations, applied only when pending", () => {
  it("lists the migration files in order and finds those not applied", async () => {
    const all = migrationNames((await d1Binding()).migrationsDir);
    expect(all.slice(0, 2)).toEqual(["0001_ratings.sql", "0002_snapshots.sql"]);
    expect(pendingOf(all, all)).toEqual([]);
    expect(pendingOf(["0001_a.sql", "0002_b.sql", "0003_c.sql"], ["0002_b.sql"])).toEqual(["0001_a.sql", "0003_c.sql"]);
  });

  it("reads the applied migrations from the local file read-only: none for a database not created yet", async () => {
    expect(appliedInFile(join(tmpdir(), "edgerec-no-such-db.sqlite"), "d1_migrations")).toEqual([]);
    const state = await stateWith(["0001_ratings.sql"]);
    const file = localD1File((await d1Binding()).localId, state);
    expect(appliedInFile(file, "d1_migrations")).toEqual(["0001_ratings.sql"]);
    expect(appliedInFile(file, "other_table")).toEqual([]);
  });

  it("runs no wrangler at all when every migration is applied", async () => {
    const all = migrationNames((await d1Binding()).migrationsDir);
    const state = await stateWith(all);
    const wrangler = fakeWrangler(() => "");
    expect(await migrateLocal({ persistTo: state }, wrangler.run)).toEqual([]);
    expect(wrangler.calls).toEqual([]);
  });

  it("applies what is pending, trying again while the file is busy", async () => {
    const state = await stateWith(["0001_ratings.sql"]);
    const wrangler = fakeWrangler((_, call) => {
      if (call <= 2) throw new Error(BUSY_MESSAGE);
      return "applied";
    });
    const retries: number[] = [];
    const applied = await migrateLocal({ persistTo: state, log: () => {}, retry: { ...fast, onRetry: (n) => retries.push(n) } }, wrangler.run);
    expect(applied).toContain("0002_snapshots.sql");
    expect(applied).not.toContain("0001_ratings.sql");
    expect(wrangler.calls).toHaveLength(3);
    expect(wrangler.calls[0]).toEqual(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state]);
    expect(retries).toEqual([1, 2]);
  });

  it("says what held the database and what to do when it stays busy through every try", async () => {
    const state = await stateWith([]);
    const wrangler = fakeWrangler(() => {
      throw new Error(BUSY_MESSAGE);
    });
    const failed = migrateLocal({ persistTo: state, retry: { ...fast, tries: 4 } }, wrangler.run);
    await expect(failed).rejects.toBeInstanceOf(StillBusyError);
    await expect(failed).rejects.toThrow(/failed 4 times.*wrangler dev.*npm start.*served version is unchanged.*run the command again/s);
    expect(wrangler.calls).toHaveLength(4);
  });

  it("does not retry an error that is not a busy file", async () => {
    const state = await stateWith([]);
    const wrangler = fakeWrangler(() => {
      throw new Error('near "CREAT": syntax error');
    });
    await expect(migrateLocal({ persistTo: state, retry: fast }, wrangler.run)).rejects.toThrow(/syntax error/);
    expect(wrangler.calls).toHaveLength(1);
  });

  it("remotely, reads the migrations table with one SELECT and applies only when something is pending", async () => {
    const all = migrationNames((await d1Binding()).migrationsDir);
    const upToDate = fakeWrangler(() => `some banner\n${JSON.stringify([{ results: all.map((name) => ({ name })), success: true }])}`);
    expect(await migrateRemote({}, upToDate.run)).toEqual([]);
    expect(upToDate.calls).toHaveLength(1);
    expect(upToDate.calls[0].slice(0, 5)).toEqual(["d1", "execute", "edgerec", "--remote", "--json"]);
    expect(upToDate.calls[0].at(-1)).toMatch(/^SELECT name FROM "d1_migrations"/);

    const fresh = fakeWrangler((args) => {
      if (args[1] === "execute") throw new Error("no such table: d1_migrations: SQLITE_ERROR");
      return "applied";
    });
    expect(await migrateRemote({}, fresh.run)).toEqual(all);
    expect(fresh.calls.map((c) => c.slice(0, 4))).toEqual([
      ["d1", "execute", "edgerec", "--remote"],
      ["d1", "migrations", "apply", "edgerec"],
    ]);
  });

  it("remotely, retries a transient failure of the apply and stops at one that is not", async () => {
    let applies = 0;
    const flaky = fakeWrangler((args) => {
      if (args[1] === "execute") return JSON.stringify([{ results: [{ name: "0001_ratings.sql" }] }]);
      if (++applies === 1) throw new Error("Network connection lost.");
      return "applied";
    });
    expect(await migrateRemote({ retry: fast }, flaky.run)).toContain("0002_snapshots.sql");
    expect(applies).toBe(2);
    const denied = fakeWrangler((args) => {
      if (args[1] === "execute") throw new Error("Authentication error [code: 10000]");
      return "";
    });
    await expect(migrateRemote({ retry: fast }, denied.run)).rejects.toThrow(/could not read which migrations.*Authentication error/);
    expect(denied.calls).toHaveLength(1);
  });
});

describe("retryWhileBusy", () => {
  it("recognises the busy errors of workerd, miniflare and wrangler, and nothing else", () => {
    expect(isBusy(new Error(BUSY_MESSAGE))).toBe(true);
    expect(isBusy(new Error("D1_ERROR: database is locked"))).toBe(true);
    expect(isBusy(new Error("wrapped", { cause: new Error("SQLITE_BUSY") }))).toBe(true);
    expect(isBusy(new Error("UNIQUE constraint failed"))).toBe(false);
  });

  it("waits longer after each busy try, up to the cap, and gives up after the bounded number of tries", async () => {
    const waits: number[] = [];
    let tries = 0;
    const failed = retryWhileBusy(
      async () => {
        tries++;
        throw new Error("SQLITE_BUSY");
      },
      { what: "writing x", tries: 6, baseDelayMs: 100, maxDelayMs: 800, sleep: async (ms) => void waits.push(ms) },
    );
    await expect(failed).rejects.toThrow(/writing x failed 6 times/);
    expect(tries).toBe(6);
    expect(waits).toHaveLength(5);
    // each wait is its step (100, 200, 400, 800, 800) jittered by +-50%
    [100, 200, 400, 800, 800].forEach((step, k) => {
      expect(waits[k]).toBeGreaterThanOrEqual(step * 0.5);
      expect(waits[k]).toBeLessThanOrEqual(step * 1.5);
    });
  });
});
