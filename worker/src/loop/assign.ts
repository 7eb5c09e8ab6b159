// Which arm a user is in: a hash of the experiment's name and the user id, so every isolate (and
// every deploy) puts a user in the same arm without sharing state, and a new experiment name
// reshuffles everyone. SHA-256, not a fast string hash: FNV-style hashes of ids that differ in
// their last digits cluster, and the shares must hold for consecutive ids too.
import type { z } from "@hono/zod-openapi";
import type { Arm, ExperimentBody } from "../api/loop-schemas.ts";

export type Experiment = z.infer<typeof ExperimentBody>;
export type ExperimentArm = z.infer<typeof Arm>;

/** A number in [0, 1) fixed by the experiment name and the user id. */
export async function unitHash(experiment: string, userId: number): Promise<number> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${experiment}:${userId}`));
  return new DataView(digest).getUint32(0) / 2 ** 32;
}

/** The user's arm: the arms take consecutive slices of [0, 1) in their order, each its share wide. */
export async function assignArm(experiment: Experiment, userId: number): Promise<ExperimentArm> {
  const u = await unitHash(experiment.name, userId);
  let edge = 0;
  for (const arm of experiment.arms) {
    edge += arm.share;
    if (u < edge) return arm;
  }
  // shares add up to 1 within rounding: the last slice takes what rounding left
  return experiment.arms[experiment.arms.length - 1];
}
