// The D1 migrations (worker/migrations) that publishing needs applied, applied only when one is
// pending. Locally the check is read-only: the local D1 is a SQLite file under .wrangler/state,
// opened here read-only, so a `wrangler dev` serving from it is never disturbed (running
// `wrangler d1 migrations apply --local` every time opened a write transaction on it and failed
// SQLITE_BUSY while ratings were being written). Remotely the check is one SELECT through
// `wrangler d1 execute --remote`. Applying stays wrangler's own `d1 migrations apply`, so its
// bookkeeping (the d1_migrations table) is the one `npm run dev` and a deploy rely on.
import { execFile } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { promisify } from "node:util";
import { type BusyRetryOptions, isBusy, retryWhileBusy } from "./busy-retry.ts";

const execFileP = promisify(execFile);

/** Keeps wrangler from calling out (metrics, cf fetch) when it only works on local state. */
export const OFFLINE_WRANGLER_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

/** wrangler dev keeps its local state here unless told `--persist-to`. */
export const DEFAULT_LOCAL_STATE = ".wrangler/state";

/** A D1 binding of wrangler.toml, as migrations see it. */
export interface D1Binding {
  binding: string;
  databaseName: string;
  /** The id wrangler dev gives the local database: preview_database_id, else database_id, else the binding. */
  localId: string;
  /** Absolute folder of the migration files. */
  migrationsDir: string;
  migrationsTable: string;
}

/** The binding's settings, read with wrangler's own config reader. */
export async function d1Binding(binding = "DB", configPath = "wrangler.toml"): Promise<D1Binding> {
  const { unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig({ config: configPath });
  const databases = config.d1_databases as {
    binding: string;
    database_name?: string;
    database_id?: string;
    preview_database_id?: string;
    migrations_dir?: string;
    migrations_table?: string;
  }[];
  const db = databases.find((d) => d.binding === binding || d.database_name === binding);
  if (!db) throw new Error(`${configPath} declares no [[d1_databases]] with binding or name ${binding}`);
  return {
    binding: db.binding,
    databaseName: db.database_name ?? db.binding,
    localId: db.preview_database_id ?? db.database_id ?? db.binding,
    migrationsDir: resolve(config.configPath ? join(config.configPath, "..") : ".", db.migrations_dir ?? "migrations"),
    migrationsTable: db.migrations_table ?? "d1_migrations",
  };
}

/** The migration files, in the order wrangler applies them (their names, sorted). */
export function migrationNames(dir: string): string[] {
  if (!existsSync(dir)) throw new Error(`no migrations folder at ${dir} (wrangler.toml migrations_dir)`);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
}

/** The files not yet in the applied list, in order. */
export function pendingOf(all: readonly string[], applied: readonly string[]): string[] {
  const done = new Set(applied);
  return all.filter((name) => !done.has(name));
}

/**
 * The SQLite file of a local D1 database. Miniflare stores each database as a Durable Object
 * whose id workerd derives from the database id (idFromName under the namespace key
 * "miniflare-D1DatabaseObject"); this is that derivation. Should a later miniflare name its files
 * otherwise, the file is not found, every check answers "pending", and publishing falls back to
 * applying through wrangler (with retries): slower, never wrong.
 */
export function localD1File(localId: string, persistTo = DEFAULT_LOCAL_STATE): string {
  const key = createHash("sha256").update("miniflare-D1DatabaseObject").digest();
  const name = createHmac("sha256", key).update(localId).digest().subarray(0, 16);
  const mac = createHmac("sha256", key).update(name).digest().subarray(0, 16);
  return join(persistTo, "v3", "d1", "miniflare-D1DatabaseObject", `${Buffer.concat([name, mac]).toString("hex")}.sqlite`);
}

/** The migrations recorded in the local database, read without taking any write lock ([] when it has none yet). */
export function appliedInFile(file: string, table: string): string[] {
  if (!existsSync(file)) return [];
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
    if (!exists) return [];
    return (db.prepare(`SELECT name FROM "${table.replace(/"/g, '""')}" ORDER BY id`).all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}

export interface LocalMigrationOptions {
  binding?: string;
  /** The folder `wrangler dev --persist-to` was given (default .wrangler/state). */
  persistTo?: string;
  log?: (line: string) => void;
  /** Retry settings (tests make them short). */
  retry?: Omit<BusyRetryOptions, "what">;
}

/** The migrations the local D1 lacks (a read-only look at its file). */
export async function pendingLocalMigrations(db: D1Binding, persistTo?: string): Promise<string[]> {
  const file = localD1File(db.localId, persistTo);
  // a read can meet a writer mid-checkpoint: the same bounded retries as a write
  const applied = await retryWhileBusy(async () => appliedInFile(file, db.migrationsTable), { what: `reading the migrations applied to ${file}` });
  return pendingOf(migrationNames(db.migrationsDir), applied);
}

/** Output of a failed wrangler run, for error messages (the tail, where wrangler says why). */
export function wranglerOutput(err: unknown): string {
  const e = err as { stdout?: string; stderr?: string; message?: string };
  return `${e.stderr ?? ""}\n${e.stdout ?? ""}`.trim() || String(e.message ?? err);
}

/** Runs wrangler with the project's offline settings; rejects with its output. */
export type WranglerRunner = (args: string[]) => Promise<string>;

export const runWrangler: WranglerRunner = async (args) => {
  try {
    const { stdout } = await execFileP("npx", ["wrangler", ...args], {
      env: { ...process.env, ...OFFLINE_WRANGLER_ENV },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    throw new Error(wranglerOutput(err).slice(-1500), { cause: err });
  }
};

/**
 * Applies the local D1's pending migrations, and nothing (not even a read through workerd) when
 * none is pending. Each migration is one transaction, so a try that met a busy file changed
 * nothing, and the next applies what is still pending. Returns the migrations it applied.
 */
export async function migrateLocal(opts: LocalMigrationOptions = {}, wrangler: WranglerRunner = runWrangler): Promise<string[]> {
  const db = await d1Binding(opts.binding);
  const pending = await pendingLocalMigrations(db, opts.persistTo);
  if (pending.length === 0) return [];
  opts.log?.(`applying ${pending.join(", ")} to the local D1 (${db.binding})`);
  const persist = opts.persistTo ? ["--persist-to", opts.persistTo] : [];
  await retryWhileBusy(() => wrangler(["d1", "migrations", "apply", db.binding, "--local", ...persist]), {
    what: `applying the migrations ${pending.join(", ")} to the local D1 (wrangler d1 migrations apply ${db.binding} --local)`,
    onRetry: (n, ms) => opts.log?.(`the local D1 is busy (another process is writing to it): migration try ${n} failed, trying again in ${ms} ms`),
    ...opts.retry,
  });
  return pending;
}

/** Failures of the real D1 worth another try (its documented retryable ones, and a lost connection to the API). */
const REMOTE_TRANSIENT =
  /Network connection lost|storage caused object to be reset|reset because its code was updated|timed? ?out|ECONNRESET|fetch failed|503|429/i;

/** The migrations the real D1 lacks: one SELECT of the migrations table (none means every one). */
export async function pendingRemoteMigrations(db: D1Binding, wrangler: WranglerRunner = runWrangler): Promise<string[]> {
  const table = `"${db.migrationsTable.replace(/"/g, '""')}"`;
  let applied: string[];
  try {
    const out = await wrangler(["d1", "execute", db.databaseName, "--remote", "--json", "--command", `SELECT name FROM ${table} ORDER BY id`]);
    const parsed = JSON.parse(out.slice(out.indexOf("["))) as { results?: { name: string }[] }[];
    applied = parsed.flatMap((r) => r.results ?? []).map((r) => r.name);
  } catch (err) {
    if (!/no such table/i.test(String((err as Error).message))) {
      throw new Error(`could not read which migrations D1 database ${db.databaseName} has (wrangler d1 execute --remote): ${(err as Error).message}`);
    }
    applied = [];
  }
  return pendingOf(migrationNames(db.migrationsDir), applied);
}

/** Applies the real D1's pending migrations, and runs nothing that writes when none is pending. */
export async function migrateRemote(
  opts: { binding?: string; log?: (line: string) => void; retry?: Omit<BusyRetryOptions, "what"> } = {},
  wrangler: WranglerRunner = runWrangler,
): Promise<string[]> {
  const db = await d1Binding(opts.binding);
  const pending = await pendingRemoteMigrations(db, wrangler);
  if (pending.length === 0) return [];
  opts.log?.(`applying ${pending.join(", ")} to D1 database ${db.databaseName} (remote)`);
  await retryWhileBusy(() => wrangler(["d1", "migrations", "apply", db.databaseName, "--remote"]), {
    what: `applying the migrations ${pending.join(", ")} to D1 database ${db.databaseName} (wrangler d1 migrations apply --remote)`,
    retryable: (err) => isBusy(err) || REMOTE_TRANSIENT.test(String((err as Error).message)),
    hint: "D1 kept answering with a retryable error. Each migration is one transaction and those already applied stay recorded: run the command again, and see https://www.cloudflarestatus.com if it persists",
    onRetry: (n, ms, err) => opts.log?.(`migration try ${n} failed (${String((err as Error).message).slice(-200)}), trying again in ${ms} ms`),
    ...opts.retry,
  });
  return pending;
}
