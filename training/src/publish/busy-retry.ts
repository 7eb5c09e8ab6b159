// Retrying a write that found the local D1 or R2 busy. Locally both are SQLite files under
// .wrangler/state, and a running `wrangler dev` (npm start) opens the same files from its own
// workerd process: while it writes (a rating posted, a model refresh), another process's
// transaction can fail at once with SQLITE_BUSY (a snapshot gone stale: SQLITE_BUSY_SNAPSHOT,
// which SQLite never waits out by itself). Every operation retried here is one transaction that
// either committed or changed nothing, so another try is safe. Portable: no Node APIs.

/** The messages a locked SQLite file produces through wrangler, miniflare and workerd. */
export const BUSY = /SQLITE_BUSY|database is locked|Failed to get session commit token/i;

export function isBusy(err: unknown): boolean {
  return BUSY.test(err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? "")}` : String(err));
}

export interface BusyRetryOptions {
  /** What was being done, for the final error ("loading the snapshots into the local D1"). */
  what: string;
  /** Tries in all (the first included). */
  tries?: number;
  /** The first wait; each next one doubles, up to maxDelayMs, each jittered by +-50%. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Told of every retry (the CLI prints it, so a long wait is not a silent one). */
  onRetry?: (attempt: number, delayMs: number, err: unknown) => void;
  /** Which errors are worth another try (default: the busy ones). */
  retryable?: (err: unknown) => boolean;
  /** Who may have held the file and what to do, for the final error (default: the local `wrangler dev`). */
  hint?: string;
  /** Injected by tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** The defaults: 10 tries over about 20 s of waiting, longer than any one write of `wrangler dev` holds the file. */
export const BUSY_RETRY = { tries: 10, baseDelayMs: 100, maxDelayMs: 5000 } as const;

export const LOCAL_BUSY_HINT =
  "the SQLite file under .wrangler/state stayed locked: another process was writing to it, most likely the `wrangler dev` of `npm start` or `npm run dev` serving from the same state (its rating writes), or a second publish running at the same time. " +
  "Nothing was half-written (each write is one transaction) and the served version is unchanged: run the command again; if it keeps failing, stop the other publish, or pause the traffic that writes ratings, and retry";

/** What a publisher prints when the work still failed after every try: who held it and what to do. */
export class StillBusyError extends Error {
  constructor(what: string, tries: number, waitedMs: number, cause: unknown, hint = LOCAL_BUSY_HINT) {
    const last = cause instanceof Error ? cause.message : String(cause);
    super(`${what} failed ${tries} times over ${(waitedMs / 1000).toFixed(1)} s (last error: ${last.trim().slice(-400)}): ${hint}`, { cause });
  }
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `work`, again after a growing pause while it fails busy, at most `tries` times in all. */
export async function retryWhileBusy<T>(work: () => Promise<T>, opts: BusyRetryOptions): Promise<T> {
  const tries = opts.tries ?? BUSY_RETRY.tries;
  const base = opts.baseDelayMs ?? BUSY_RETRY.baseDelayMs;
  const max = opts.maxDelayMs ?? BUSY_RETRY.maxDelayMs;
  const retryable = opts.retryable ?? isBusy;
  const sleep = opts.sleep ?? defaultSleep;
  let waited = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (!retryable(err)) throw err;
      if (attempt >= tries) throw new StillBusyError(opts.what, tries, waited, err, opts.hint);
      const delay = Math.round(Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random()));
      opts.onRetry?.(attempt, delay, err);
      waited += delay;
      await sleep(delay);
    }
  }
}
