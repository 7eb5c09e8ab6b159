// publish without --model: the exported model with the best valid NDCG@10.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bestExported } from "../src/publish/choose.ts";

function exported(root: string, model: string, validNdcg: number | null, bundle = true, graphValidNdcg?: number): void {
  mkdirSync(join(root, model), { recursive: true });
  writeFileSync(
    join(root, model, "metrics.json"),
    JSON.stringify({ model, valid: validNdcg === null ? null : { "ndcg@10": validNdcg }, test: { "ndcg@10": 1 } }),
  );
  // newer bundles carry model.onnx's own valid metrics in the manifest
  if (bundle) writeFileSync(join(root, model, "manifest.json"), JSON.stringify(graphValidNdcg === undefined ? {} : { valid: { "ndcg@10": graphValidNdcg } }));
}

describe("choosing the model to publish", () => {
  it("picks the exported model with the best valid NDCG@10, ignoring models without a bundle", () => {
    const root = mkdtempSync(join(tmpdir(), "edgerec-choose-"));
    exported(root, "lightgcn", 0.22);
    exported(root, "ials", 0.213);
    exported(root, "ease", 0.231, false); // trained, not exportable
    exported(root, "tutorial-run", null);
    const { chosen, candidates } = bestExported(root);
    expect(chosen.model).toBe("lightgcn");
    expect(candidates.map((c) => c.model)).toEqual(["lightgcn", "ials"]);
  });

  it("ranks by the exported graph's own valid NDCG@10 where the manifest has it", () => {
    const root = mkdtempSync(join(tmpdir(), "edgerec-choose-"));
    exported(root, "blend", 0.2386, true, 0.2386);
    // in memory EASE looked better on valid than its float16 graph does
    exported(root, "ease", 0.24, true, 0.2316);
    const { chosen, candidates } = bestExported(root);
    expect(chosen.model).toBe("blend");
    expect(candidates.map((c) => c.validNdcg10)).toEqual([0.2386, 0.2316]);
  });

  it("says what to do when nothing is exported", () => {
    expect(() => bestExported(mkdtempSync(join(tmpdir(), "edgerec-choose-")))).toThrow(/no exported model.*npm run train/);
  });
});
