// Scores a serving bundle on an EvalSet: its model.onnx run in onnxruntime-web (what the Worker
// runs, and how export computes a manifest's metrics), users and movies mapped to the bundle's
// own indices through its ids.json. The candidate and the served model go through this same
// function on the same users, so their figures compare.
import { BUNDLE_FILES, type IdMaps, type Manifest } from "../contract/artifacts.ts";
import type { MetricValues } from "../eval/metrics.ts";
import { evaluateGraph } from "../export/evaluate-graph.ts";
import { csrFromTriples } from "../protocol/csr.ts";
import type { Split } from "../protocol/protocols.ts";
import type { EvalSet } from "./merge.ts";

/** What scoring needs of a bundle: its manifest and files by name. */
export interface BundleFiles {
  manifest: Manifest;
  files: Map<string, Uint8Array>;
}

export function idsOf(bundle: BundleFiles): IdMaps {
  const bytes = bundle.files.get(BUNDLE_FILES.ids);
  if (!bytes) throw new Error(`${bundle.manifest.version} has no ${BUNDLE_FILES.ids}`);
  const ids = JSON.parse(new TextDecoder().decode(bytes)) as IdMaps;
  if (ids.users.length === 0)
    throw new Error(
      `${bundle.manifest.version} keeps its user index outside the bundle (per_user ${bundle.manifest.per_user}, over 50,000 users): retrain cannot score it yet`,
    );
  return ids;
}

/** Only the users both bundles know (each model can be asked about them). */
export function commonUsers(set: EvalSet, a: IdMaps, b: IdMaps): EvalSet {
  const inA = new Set(a.users);
  const inB = new Set(b.users);
  return { users: set.users.filter((u) => inA.has(u.user) && inB.has(u.user)) };
}

export async function scoreBundle(bundle: BundleFiles, set: EvalSet, ks: readonly number[] = [10, 20]): Promise<MetricValues> {
  const ids = idsOf(bundle);
  const graph = bundle.files.get(BUNDLE_FILES.model);
  if (!graph) throw new Error(`${bundle.manifest.version} has no ${BUNDLE_FILES.model}`);
  const userIndex = new Map(ids.users.map((id, i) => [id, i]));
  const itemIndex = new Map(ids.items.map((id, i) => [id, i]));
  const triples = (pick: (u: EvalSet["users"][number]) => number[]) => {
    const r: number[] = [];
    const c: number[] = [];
    for (const u of set.users) {
      const row = userIndex.get(u.user);
      if (row === undefined) throw new Error(`user ${u.user} is not in ${bundle.manifest.version}: score only the users both models know`);
      for (const item of pick(u)) {
        const col = itemIndex.get(item);
        if (col !== undefined) {
          r.push(row);
          c.push(col);
        }
      }
    }
    return csrFromTriples(ids.users.length, ids.items.length, r, c);
  };
  const mask = triples((u) => u.mask);
  const target = triples((u) => u.target);
  const split: Split = {
    dataset: bundle.manifest.dataset as Split["dataset"],
    protocol: bundle.manifest.protocol as Split["protocol"],
    seed: bundle.manifest.seed,
    userIds: Int32Array.from(ids.users),
    itemIds: Int32Array.from(ids.items),
    train: mask,
    valid: null,
    test: target,
    counts: { users: ids.users.length, items: ids.items.length, interactions: 0, train: 0, valid: 0, test: 0 },
  };
  return (await evaluateGraph(graph, bundle.manifest.recs ?? "user", split, { ks })).test;
}
