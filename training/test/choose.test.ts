// publish without --model: the exported model with the best valid NDCG@10.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bestExported } from "../src/publish/choose.ts";

function exported(root: string, model: string, validNdcg: number | null, bundle = true): void {
  mkdirSync(join(root, model), { recursive: true });
  writeFileSync(
    join(root, model, "metrics.json"),
    JSON.stringify({ model, valid: validNdcg === null ? null : { "ndcg@10": validNdcg }, test: { "ndcg@10": 1 } }),
  );
  if (bundle) writeFileSync(join(root, model, "manifest.json"), "{}");
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

  it("says what to do when nothing is exported", () => {
    expect(() => bestExported(mkdtempSync(join(tmpdir(), "edgerec-choose-")))).toThrow(/no exported model.*npm run train/);
  });
});
