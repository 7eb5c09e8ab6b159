// Which exported model to publish when none is named: the one with the best valid NDCG@10
// among the folders of the artifacts directory that hold a serving bundle (never chosen on test).
// The valid figure is the exported model.onnx's own (the manifest's), falling back to the
// trained model's for bundles written before export evaluated the graph.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE_FILES, METRICS_FILE, type Manifest, type MetricsFile } from "../contract/artifacts.ts";

export interface Candidate {
  model: string;
  validNdcg10: number;
}

function exportedCandidates(artifactsDir: string): Candidate[] {
  if (!existsSync(artifactsDir)) return [];
  const out: Candidate[] = [];
  for (const entry of readdirSync(artifactsDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(artifactsDir, entry.name);
    if (!existsSync(join(dir, BUNDLE_FILES.manifest)) || !existsSync(join(dir, METRICS_FILE))) continue;
    const metrics = JSON.parse(readFileSync(join(dir, METRICS_FILE), "utf8")) as MetricsFile;
    const manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8")) as Manifest;
    const valid = (manifest.valid ?? metrics.valid)?.["ndcg@10"];
    if (typeof valid === "number") out.push({ model: entry.name, validNdcg10: valid });
  }
  return out.sort((a, b) => b.validNdcg10 - a.validNdcg10 || a.model.localeCompare(b.model));
}

/** The exported model with the best valid NDCG@10, or a clear error when nothing is exported. */
export function bestExported(artifactsDir: string): { chosen: Candidate; candidates: Candidate[] } {
  const candidates = exportedCandidates(artifactsDir);
  if (candidates.length === 0) {
    throw new Error(`${artifactsDir} holds no exported model with valid metrics: train one first (npm run train -- --model lightgcn)`);
  }
  return { chosen: candidates[0], candidates };
}
