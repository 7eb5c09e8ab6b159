// Reading and checking model parameters, shared by every model.
import { availableParallelism } from "node:os";
import type { Params } from "./recommender.ts";

/** Kernel threads by default: every core this process may use (at most 8). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), 8));
}

/** A numeric parameter, or a clear error naming the parameter and the rule it breaks. */
export function numberParam(params: Params, key: string, check: (v: number) => boolean, rule: string): number {
  const v = Number(params[key]);
  if (!Number.isFinite(v) || !check(v)) throw new Error(`${key} must be ${rule}, got ${params[key]}`);
  return v;
}
