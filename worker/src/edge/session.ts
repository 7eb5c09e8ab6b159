// Every D1 query of a request goes through one D1 session (read replication, docs/edge.md): the
// middleware opens it from the request's bookmark, or "first-unconstrained" when the client
// brings none (no recent writes: the nearest replica may answer), and puts it on c.env.DB, so
// every handler, store and middleware that reads c.env.DB reads through it without knowing.
// The answer carries the session's bookmark back (x-d1-bookmark; after a write also a cookie for
// the page), and the client's next request, in any isolate or location, reads from a copy at
// least that fresh: read-your-writes.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { executionContext } from "../middleware.ts";
import { BOOKMARK_HEADER, bookmarkCookie, requestBookmark } from "./bookmark.ts";

const BASE = Symbol("edgerec.d1.base");

/** c.env.DB during a request: the D1 binding's surface, backed by the request's session. */
export interface RequestDatabase extends D1Database {
  readonly [BASE]: D1Database;
  /** The session's bookmark: the newest commit its reads or writes have seen (null: none yet). */
  bookmark(): string | null;
  /** The bookmark the request brought (null: none). */
  readonly from: string | null;
  /** A write statement of this request has completed. */
  readonly wrote: boolean;
  /** The D1 session itself. */
  readonly session: D1DatabaseSession;
  /** Where this request's user-state cache lives, and for how long an entry serves (user-state.ts). */
  readonly userState: UserStateSettings;
}

export interface UserStateSettings {
  /** The request's origin: cache keys live under it. */
  origin: string;
  /** How long a cached user state serves requests without a bookmark; 0: no cache. */
  seconds: number;
  /** Keeps work running after the answer (the request's waitUntil; absent without an execution context). */
  defer?: (work: Promise<unknown>) => void;
}

const NO_USER_STATE: UserStateSettings = { origin: "", seconds: 0 };
/** USER_STATE_CACHE_SECONDS when unset. */
export const DEFAULT_USER_STATE_SECONDS = 30;

/** Statements that change nothing; anything else counts as a write (sent to the primary by D1). */
const READ_ONLY = /^\s*(select|pragma|explain|values)\b/i;
/** A common table expression reads unless its statement writes (`WITH ... INSERT`, say). */
const CTE = /^\s*with\b/i;
const WRITES = /\b(insert|update|delete|replace|create|drop|alter)\b/i;

export function isWrite(sql: string): boolean {
  if (READ_ONLY.test(sql)) return false;
  return !(CTE.test(sql) && !WRITES.test(sql));
}

/** The binding under a request's session database (itself when it is one already). */
export function baseDatabase(db: D1Database): D1Database {
  return (db as Partial<RequestDatabase>)[BASE] ?? db;
}

/** The request database under c.env.DB, when the session middleware opened one. */
export function requestDatabase(db: D1Database | undefined): RequestDatabase | null {
  return db && BASE in db ? (db as RequestDatabase) : null;
}

/**
 * A write statement of the session: executed as given, and once it has completed the request
 * counts as one that wrote (its answer then hands the page a bookmark cookie).
 */
class TrackedWrite {
  constructor(
    readonly inner: D1PreparedStatement,
    private readonly done: () => void,
  ) {}
  bind(...values: unknown[]): TrackedWrite {
    return new TrackedWrite(this.inner.bind(...values), this.done);
  }
  private async track<T>(work: Promise<T>): Promise<T> {
    const result = await work;
    this.done();
    return result;
  }
  first(column?: string): Promise<unknown> {
    return this.track(column === undefined ? this.inner.first() : this.inner.first(column));
  }
  run(): Promise<D1Result> {
    return this.track(this.inner.run());
  }
  all(): Promise<D1Result> {
    return this.track(this.inner.all());
  }
  raw(options?: { columnNames?: boolean }): Promise<unknown[]> {
    return this.track(this.inner.raw(options as { columnNames: true }) as Promise<unknown[]>);
  }
}

/** A session of `base` started from `from` (null: first-unconstrained), shaped like the binding. */
export function sessionDatabase(base: D1Database, from: string | null, userState: UserStateSettings = NO_USER_STATE): RequestDatabase {
  const session = base.withSession(from ?? "first-unconstrained");
  let wrote = false;
  const markWritten = (): void => {
    wrote = true;
  };
  const db = {
    [BASE]: base,
    from,
    session,
    userState,
    get wrote() {
      return wrote;
    },
    bookmark: () => session.getBookmark(),
    prepare(query: string): D1PreparedStatement {
      const statement = session.prepare(query);
      return (isWrite(query) ? new TrackedWrite(statement, markWritten) : statement) as D1PreparedStatement;
    },
    async batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
      const writes = statements.some((s) => s instanceof TrackedWrite);
      const results = await session.batch<T>(statements.map((s) => (s instanceof TrackedWrite ? s.inner : s)));
      if (writes) wrote = true;
      return results;
    },
    // exec runs outside any session on the primary (D1 has it on the binding only); nothing here uses it
    exec: (query: string) => base.exec(query),
    withSession: (constraintOrBookmark?: string) => base.withSession(constraintOrBookmark),
    dump: () => base.dump(),
  };
  return db as unknown as RequestDatabase;
}

/**
 * Opens the request's D1 session on c.env.DB and hands its bookmark back. A binding without
 * sessions (a test's stand-in for a failing D1) is left as it is.
 */
export const d1Session = createMiddleware<AppEnv>(async (c, next) => {
  const base = c.env?.DB;
  if (!base || typeof base.withSession !== "function") return next();
  const seconds = Number(c.env.USER_STATE_CACHE_SECONDS ?? DEFAULT_USER_STATE_SECONDS);
  const ctx = executionContext(c);
  const db = sessionDatabase(base, requestBookmark(c.req.raw.headers), {
    origin: new URL(c.req.url).origin,
    seconds: Number.isFinite(seconds) && seconds > 0 ? seconds : 0,
    defer: ctx ? (work) => ctx.waitUntil(work) : undefined,
  });
  c.env = { ...c.env, DB: db };
  await next();
  const bookmark = db.bookmark();
  if (bookmark === null) return;
  c.res.headers.set(BOOKMARK_HEADER, bookmark);
  // the page keeps its last write's bookmark in a cookie; reads alone leave it as it is
  if (db.wrote && c.res.status < 400) c.res.headers.append("set-cookie", bookmarkCookie(bookmark, new URL(c.req.url).protocol === "https:"));
});
