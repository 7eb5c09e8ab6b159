// Development only: the round trips of the real topology, injected into `wrangler dev`, where D1
// and R2 are files on the same machine (docs/edge.md). With DEV_LATENCY set, the D1 binding is
// wrapped so that a query served by the primary waits d1_primary_ms and one served by a replica
// d1_replica_ms, and every R2 call waits r2_ms. The replica is a second local database
// (DB_REPLICA) that receives the primary's writes replica_lag_ms after they commit, so a read the
// replica serves really is stale, and a session whose bookmark the replica has not reached yet
// reads from the primary, as D1 routes it. The write log is this isolate's: writes made outside
// it (another process, publish's snapshots) reach the primary only.
// It can never run in a deploy: the Worker refuses every request while DEV_LATENCY is set unless
// EDGEREC_DEV is "wrangler-dev" (only ever passed as `wrangler dev --var`; `npm run deploy`
// refuses a wrangler.toml that sets either) and the request came to a loopback address.
import { ApiError } from "../errors.ts";
import { newer } from "./bookmark.ts";
import { DEV_MARKER } from "./names.ts";
import { isWrite } from "./session.ts";

/** What the injection reads from the Worker's environment; none of it is in wrangler.toml. */
export interface DevLatencyEnv {
  DEV_LATENCY?: string;
  EDGEREC_DEV?: string;
  DB_REPLICA?: D1Database;
}

export interface LatencySettings {
  d1_primary_ms: number;
  d1_replica_ms: number;
  r2_ms: number;
  replica_lag_ms: number;
}

const DEFAULTS: LatencySettings = { d1_primary_ms: 100, d1_replica_ms: 5, r2_ms: 30, replica_lag_ms: 200 };
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** `d1_primary_ms=100,d1_replica_ms=5,r2_ms=30,replica_lag_ms=200` (any subset; the rest default). */
export function parseLatency(text: string): LatencySettings {
  const settings = { ...DEFAULTS };
  for (const part of text.split(",").map((p) => p.trim())) {
    if (part === "" || part === "on") continue;
    const [key, value, ...rest] = part.split("=");
    const ms = Number(value);
    if (!(key in DEFAULTS) || rest.length > 0 || value === undefined || value.trim() === "" || !Number.isFinite(ms) || ms < 0 || ms > 60_000)
      throw new ApiError(
        500,
        "dev_latency_invalid",
        `DEV_LATENCY: "${part}" is not one of ${Object.keys(DEFAULTS).join(", ")} = milliseconds (0..60000); e.g. DEV_LATENCY:d1_primary_ms=100,r2_ms=30`,
      );
    settings[key as keyof LatencySettings] = ms;
  }
  return settings;
}

/**
 * The guard: latency injection only under `wrangler dev`, on loopback, with the replica's
 * database bound. Anything else is a misconfigured deploy, and every request says so.
 */
export function devLatencySettings(env: DevLatencyEnv, url: string): LatencySettings | null {
  if (env.DEV_LATENCY === undefined || env.DEV_LATENCY === "") return null;
  const host = new URL(url).hostname;
  if (env.EDGEREC_DEV !== DEV_MARKER || !LOOPBACK.has(host))
    throw new ApiError(
      500,
      "dev_latency_outside_dev",
      `DEV_LATENCY is set, and it is for local measurement only (wrangler dev --var EDGEREC_DEV:${DEV_MARKER}, on 127.0.0.1); this Worker ${
        env.EDGEREC_DEV !== DEV_MARKER ? "has no such marker" : `was reached at ${host}`
      }, so it serves nothing: remove DEV_LATENCY from its variables and deploy again`,
    );
  if (!env.DB_REPLICA)
    throw new ApiError(
      500,
      "dev_latency_invalid",
      "DEV_LATENCY needs a second local D1 database bound as DB_REPLICA (npm run bench:edge writes such a config)",
    );
  return parseLatency(env.DEV_LATENCY);
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

interface Statement {
  sql: string;
  params: unknown[];
}

/** The primary's committed writes, applied to the replica database replica_lag_ms after commit. */
class ReplicaModel {
  private pending: { bookmark: string; at: number; statements: Statement[] }[] = [];
  private applied: string | null = null;
  private applying: Promise<void> = Promise.resolve();
  constructor(
    private readonly replica: D1Database,
    private readonly lagMs: () => number,
  ) {}

  record(bookmark: string, statements: Statement[]): void {
    this.pending.push({ bookmark, at: Date.now(), statements });
    this.pending.sort((a, b) => (a.bookmark < b.bookmark ? -1 : 1));
  }

  /** Applies, in commit order, every write older than the lag. */
  catchUp(): Promise<void> {
    this.applying = this.applying.then(async () => {
      const due = Date.now() - this.lagMs();
      while (this.pending.length > 0 && this.pending[0].at <= due) {
        const entry = this.pending[0];
        await this.replica.batch(entry.statements.map((s) => this.replica.prepare(s.sql).bind(...s.params)));
        this.pending.shift();
        this.applied = newer(this.applied, entry.bookmark);
      }
    });
    return this.applying;
  }

  /** Whether the replica has every write up to `bookmark` (it lacks only the pending ones). */
  covers(bookmark: string | null): boolean {
    return bookmark === null || this.pending.length === 0 || bookmark < this.pending[0].bookmark;
  }

  /** The replica's position: the last write it applied. */
  position(): string | null {
    return this.applied;
  }
}

/** Counts of one session's queries by where they ran (the bench reads them per request). */
export interface QueryCounts {
  primaryReads: number;
  replicaReads: number;
  writes: number;
}

const ALL_ROWS = "all";
type Mode = "first" | "run" | "all" | "raw";

class DevStatement {
  constructor(
    readonly owner: DevSession | null,
    readonly db: LatencyD1,
    readonly sql: string,
    readonly params: unknown[] = [],
  ) {}
  bind(...values: unknown[]): DevStatement {
    return new DevStatement(this.owner, this.db, this.sql, values);
  }
  private exec<T>(mode: Mode, arg?: unknown): Promise<T> {
    const session = this.owner ?? this.db.sessionless();
    return session.execute(this, mode, arg) as Promise<T>;
  }
  first(column?: string): Promise<unknown> {
    return this.exec("first", column);
  }
  run(): Promise<D1Result> {
    return this.exec("run");
  }
  all(): Promise<D1Result> {
    return this.exec(ALL_ROWS);
  }
  raw(options?: unknown): Promise<unknown[]> {
    return this.exec("raw", options);
  }
}

function statementOf(s: D1PreparedStatement): DevStatement {
  if (s instanceof DevStatement) return s;
  throw new Error("DEV_LATENCY: a statement prepared outside the latency wrapper reached it (prepare every statement on env.DB)");
}

function runOn(db: Pick<D1Database, "prepare">, s: DevStatement, mode: Mode, arg?: unknown): Promise<unknown> {
  const stmt = db.prepare(s.sql).bind(...s.params);
  if (mode === "first") return arg === undefined ? stmt.first() : stmt.first(arg as string);
  if (mode === "raw") return stmt.raw(arg as { columnNames: true });
  return mode === "run" ? stmt.run() : stmt.all();
}

/** One D1 session as the real topology would serve it: replica when fresh enough, else primary. */
class DevSession {
  private bookmark: string | null;
  private first = true;
  private readonly primary: D1DatabaseSession;
  readonly counts: QueryCounts = { primaryReads: 0, replicaReads: 0, writes: 0 };
  constructor(
    private readonly db: LatencyD1,
    constraintOrBookmark: string,
  ) {
    this.bookmark = constraintOrBookmark.startsWith("first-") ? null : constraintOrBookmark;
    this.primaryFirst = constraintOrBookmark === "first-primary";
    this.primary = db.real.withSession("first-primary");
  }
  private readonly primaryFirst: boolean;

  getBookmark(): string | null {
    return this.bookmark;
  }

  prepare(sql: string): DevStatement {
    return new DevStatement(this, this.db, sql);
  }

  /**
   * Where a read goes: the primary on a first-primary session's first query, or when the replica
   * lags the bookmark. Replication runs beside the read, never in its way (a real replica applies
   * the log on its own): a write not applied yet only makes the replica look further behind.
   */
  private async onReplica(): Promise<boolean> {
    this.db.model.catchUp().catch((err: unknown) => console.error("DEV_LATENCY: the replica could not apply the primary's writes", err));
    const replica = !(this.primaryFirst && this.first) && this.db.model.covers(this.bookmark);
    this.first = false;
    return replica;
  }

  async execute(s: DevStatement, mode: Mode, arg?: unknown): Promise<unknown> {
    const { settings, model } = this.db;
    if (isWrite(s.sql)) {
      await sleep(settings.d1_primary_ms);
      const result = await runOn(this.primary, s, mode, arg);
      this.committed([s]);
      return result;
    }
    if (await this.onReplica()) {
      await sleep(settings.d1_replica_ms);
      this.counts.replicaReads++;
      this.bookmark = newer(this.bookmark, model.position());
      return runOn(this.db.replica, s, mode, arg);
    }
    await sleep(settings.d1_primary_ms);
    this.counts.primaryReads++;
    const result = await runOn(this.primary, s, mode, arg);
    this.bookmark = newer(this.bookmark, this.primary.getBookmark());
    return result;
  }

  /** A batch is one round trip, and one transaction: on the primary when it writes. */
  async batch<T>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    const list = statements.map(statementOf);
    const writes = list.filter((s) => isWrite(s.sql));
    const replica = writes.length === 0 && (await this.onReplica());
    await sleep(replica ? this.db.settings.d1_replica_ms : this.db.settings.d1_primary_ms);
    const target = replica ? this.db.replica : this.primary;
    const results = await target.batch<T>(list.map((s) => target.prepare(s.sql).bind(...s.params)));
    if (replica) {
      this.counts.replicaReads++;
      this.bookmark = newer(this.bookmark, this.db.model.position());
    } else if (writes.length > 0) this.committed(writes);
    else {
      this.counts.primaryReads++;
      this.bookmark = newer(this.bookmark, this.primary.getBookmark());
    }
    return results;
  }

  private committed(writes: DevStatement[]): void {
    this.counts.writes++;
    const bookmark = this.primary.getBookmark();
    if (bookmark !== null) this.db.model.record(bookmark, writes);
    this.bookmark = newer(this.bookmark, bookmark);
  }
}

/** The D1 binding with injected round trips; one per isolate and binding, like the binding. */
export class LatencyD1 {
  readonly model: ReplicaModel;
  constructor(
    readonly real: D1Database,
    readonly replica: D1Database,
    public settings: LatencySettings,
  ) {
    this.model = new ReplicaModel(replica, () => this.settings.replica_lag_ms);
  }
  /** Without a session D1 sends every query to the primary. */
  sessionless(): DevSession {
    return new DevSession(this, "first-primary");
  }
  withSession(constraintOrBookmark?: string): DevSession {
    return new DevSession(this, constraintOrBookmark ?? "first-unconstrained");
  }
  prepare(sql: string): DevStatement {
    return new DevStatement(null, this, sql);
  }
  batch<T>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    return this.sessionless().batch<T>(statements);
  }
  async exec(query: string): Promise<D1ExecResult> {
    await sleep(this.settings.d1_primary_ms);
    return this.real.exec(query);
  }
  dump(): Promise<ArrayBuffer> {
    return this.real.dump();
  }
}

/** The session's query counts, when it runs under the injection. */
export function devCounts(session: unknown): QueryCounts | null {
  return session instanceof DevSession ? session.counts : null;
}

/** R2 calls this isolate has made through the injection (the bench reads it before and after a request). */
export const r2Calls = { count: 0 };

/** The R2 binding with every call waiting r2_ms first (a body's transfer time is not modelled). */
export function latencyR2(real: R2Bucket, settings: () => LatencySettings): R2Bucket {
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        r2Calls.count++;
        await sleep(settings().r2_ms);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const wrappedD1 = new WeakMap<D1Database, LatencyD1>();
const wrappedR2 = new WeakMap<R2Bucket, { bucket: R2Bucket; settings: LatencySettings }>();

/**
 * The bindings with injected latency, the same objects for every request of the isolate (the
 * model store keys its caches on them).
 */
export function withLatency(db: D1Database, replica: D1Database, bucket: R2Bucket, settings: LatencySettings): { DB: D1Database; MODELS: R2Bucket } {
  let d1 = wrappedD1.get(db);
  if (!d1) {
    d1 = new LatencyD1(db, replica, settings);
    wrappedD1.set(db, d1);
  }
  d1.settings = settings;
  let r2 = wrappedR2.get(bucket);
  if (!r2) {
    const holder = { settings, bucket: bucket };
    holder.bucket = latencyR2(bucket, () => holder.settings);
    r2 = holder;
    wrappedR2.set(bucket, r2);
  }
  r2.settings = settings;
  return { DB: d1 as unknown as D1Database, MODELS: r2.bucket };
}
