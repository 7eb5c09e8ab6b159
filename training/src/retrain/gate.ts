// The publish gate: the candidate replaces the served model only when it is not worse on NDCG@10,
// beyond a tolerance, on either check (the fixed holdout and the recent live ratings). The
// tolerance comes from how much the same model moves between training seeds on one split:
// a smaller drop than that is noise of training, not a worse model.
import type { MetricValues } from "../eval/metrics.ts";

export const GATE_METRIC = "ndcg@10";

/**
 * Measured with `npm run bench:seed-spread -- --model lightgcn --dataset ml-100k` (5 seeds on the
 * recbole split, seed 2020): test NDCG@10 0.2836 ± 0.0023 (mean ± sd). See docs/retraining.md.
 */
export const MEASURED_SEED_SD = 0.0023;
/** The default tolerance: 2 sd of the seed-to-seed spread. */
export const DEFAULT_TOLERANCE = 2 * MEASURED_SEED_SD;

export interface Check {
  name: "holdout" | "recent";
  users: number;
  candidate: MetricValues | null;
  served: MetricValues | null;
}

export interface Verdict {
  publish: boolean;
  tolerance: number;
  /** One line per check: the two figures and the difference. */
  lines: string[];
  checks: { name: string; users: number; candidate: number | null; served: number | null; delta: number | null; ok: boolean }[];
}

export function judge(checks: Check[], tolerance: number): Verdict {
  const rows = checks.map((c) => {
    const cand = c.candidate?.[GATE_METRIC] ?? null;
    const served = c.served?.[GATE_METRIC] ?? null;
    // a check nobody can be scored on (no recent live ratings yet, or no served model) does not block
    const delta = cand !== null && served !== null ? cand - served : null;
    return { name: c.name, users: c.users, candidate: cand, served, delta, ok: delta === null || c.users === 0 || delta >= -tolerance };
  });
  const fmt = (v: number | null): string => (v === null ? "-" : v.toFixed(4));
  const lines = rows.map(
    (r) =>
      `${r.name.padEnd(8)} ${String(r.users).padStart(6)} users  ${GATE_METRIC} candidate ${fmt(r.candidate)}  served ${fmt(r.served)}  delta ${r.delta === null ? "-" : (r.delta >= 0 ? "+" : "") + r.delta.toFixed(4)}  ${r.ok ? "ok" : `WORSE than -${tolerance.toFixed(4)}`}`,
  );
  return { publish: rows.every((r) => r.ok), tolerance, lines, checks: rows };
}
