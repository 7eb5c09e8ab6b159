// The loop's settings, from wrangler.toml [vars] (docs/loop.md), each with its default and range.
import type { Env } from "../env.ts";

function numberVar(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = value === undefined || value === "" ? Number.NaN : Number(value);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

export interface LoopSettings {
  /** Days served lists and events are kept (older rows are deleted). */
  retentionDays: number;
  /** The fraction of served lists whose movie ids are kept (every list's row is kept: events are attributed through it). */
  listSample: number;
  /** A shown movie rated 4 or more within this many hours of its impression counts as a conversion. */
  conversionHours: number;
  /** How long an isolate reuses the experiment it read from D1. */
  experimentCacheSeconds: number;
}

export function loopSettings(env: Partial<Env>): LoopSettings {
  const vars = env as Record<string, string | undefined>;
  return {
    retentionDays: numberVar(vars.LOOP_RETENTION_DAYS, 90, 1, 3650),
    listSample: numberVar(vars.LOOP_LIST_SAMPLE, 1, 0, 1),
    conversionHours: numberVar(vars.LOOP_CONVERSION_HOURS, 168, 1, 24 * 365),
    experimentCacheSeconds: numberVar(vars.LOOP_EXPERIMENT_CACHE_SECONDS, 30, 0, 3600),
  };
}
