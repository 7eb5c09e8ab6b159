// The one pipeline and its one export: a run hands each bundle over as soon as it is written,
// export rebuilds the same bytes from the saved state and artifacts/split/ alone (no raw data),
// and the saved state and split read back as what training had in memory.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_FILES, FOLDIN_STATE_FILE, type Manifest, SPLIT_DIR, SPLIT_FILES } from "../src/contract/artifacts.ts";
import type { Dataset } from "../src/data/parse.ts";
import { exportSaved } from "../src/export/bundle.ts";
import { decodeTables, encodeTables } from "../src/export/model-state.ts";
import { ease } from "../src/models/ease.ts";
import { mf } from "../src/models/lightgcn.ts";
import { pop } from "../src/models/pop.ts";
import { type PipelineResult, runPipeline } from "../src/pipeline/pipeline.ts";
import { readSplit } from "../src/pipeline/split-files.ts";
import { tasteGroupDataset } from "./taste-groups.ts";

/** 120 users rating 15..40 of 90 movies, some below the protocol's threshold (rated, not positive). */
const smallDataset = (): Dataset => tasteGroupDataset((rng) => 1 + rng.int(5));

const sha = (m: Manifest): Record<string, string> => Object.fromEntries(Object.entries(m.files).map(([k, f]) => [k, f.sha256]));

describe("runPipeline", () => {
  let artifacts: string;
  let run: PipelineResult;
  const ready: { model: string; dir: string; manifestOnDisk: boolean }[] = [];
  const trained: string[] = [];

  beforeAll(async () => {
    artifacts = mkdtempSync(join(tmpdir(), "edgerec-pipeline-"));
    run = await runPipeline({
      data: smallDataset(),
      dataset: "ml-100k",
      protocol: "recbole",
      seed: 4,
      models: [ease, pop, { model: mf, params: { dim: 8, epochs: 3, batch: 512, eval_every: 1, threads: 1 } }],
      params: { lambda: 50 },
      tune: false,
      artifacts,
      bundle: { version: (model) => `${model}-test` },
      onModelTrained: (m) => {
        trained.push(m.model);
      },
      onModelReady: (model, dir) => {
        ready.push({ model, dir, manifestOnDisk: existsSync(join(dir, BUNDLE_FILES.manifest)) });
      },
    });
  });

  it("trains every model, and hands over each exportable model's complete bundle when it is written", () => {
    expect(trained).toEqual(["ease", "pop", "mf"]);
    expect(run.results.map((r) => r.model)).toEqual(["ease", "pop", "mf"]);
    // pop has no serving graph: trained, never exported
    expect(ready.map((r) => r.model)).toEqual(["ease", "mf"]);
    for (const r of ready) {
      expect(r.dir).toBe(join(artifacts, r.model));
      expect(r.manifestOnDisk).toBe(true);
    }
    expect(existsSync(join(artifacts, "pop", BUNDLE_FILES.manifest))).toBe(false);
    expect([...run.manifests.keys()]).toEqual(["ease", "mf"]);
    expect(run.manifests.get("ease")?.version).toBe("ease-test");
  });

  it("keeps a per-model parameter over the run's and the run's over the defaults", () => {
    const [easeRun, , mfRun] = run.results;
    expect(easeRun.params.lambda).toBe(50);
    expect(mfRun.params.dim).toBe(8);
    expect(mfRun.params.lambda).toBe(50);
  });

  it("re-exports the same bytes from the saved state and artifacts/split/ alone", async () => {
    const copy = mkdtempSync(join(tmpdir(), "edgerec-reexport-"));
    // only what training and prepare left: the state, the metrics and the split with its catalogue
    cpSync(join(artifacts, SPLIT_DIR), join(copy, SPLIT_DIR), { recursive: true });
    for (const model of ["ease", "mf"]) {
      for (const f of readdirSync(join(artifacts, model)))
        if (!(Object.values(BUNDLE_FILES) as string[]).includes(f)) cpSync(join(artifacts, model, f), join(copy, model, f));
      expect(existsSync(join(copy, model, BUNDLE_FILES.model))).toBe(false);
      const again = await exportSaved(model, readSplit(copy), copy, { version: `${model}-again` });
      const first = run.manifests.get(model)!;
      expect(sha(again)).toEqual(sha(first));
      expect(again.metrics).toEqual(first.metrics);
      expect(again.valid).toEqual(first.valid);
      expect({ ...again, version: "", created: "" }).toEqual({ ...first, version: "", created: "" });
    }
  });

  it("reads back the split as training numbered it, with every rated movie (below the threshold too)", () => {
    const { split, catalogue } = readSplit(artifacts);
    expect(split.counts).toEqual(run.split.counts);
    expect(Array.from(split.userIds)).toEqual(Array.from(run.split.userIds));
    expect(Array.from(split.itemIds)).toEqual(Array.from(run.split.itemIds));
    for (const key of ["train", "valid", "test"] as const) {
      expect(Array.from(split[key]!.indptr)).toEqual(Array.from(run.split[key]!.indptr));
      expect(Array.from(split[key]!.indices)).toEqual(Array.from(run.split[key]!.indices));
    }
    // rated.tsv holds more than the positives: the ratings under 3 are rated too
    expect(catalogue.rated.indices.length).toBeGreaterThan(run.split.counts.interactions);
    expect(catalogue.movies.map((m) => m.movieId)).toEqual(Array.from(split.itemIds));
  });

  it("refuses to export onto a split the model was not trained on, saying what to do", async () => {
    const other = mkdtempSync(join(tmpdir(), "edgerec-other-"));
    await runPipeline({ data: smallDataset(), dataset: "ml-100k", protocol: "recbole", seed: 9, models: [pop], artifacts: other });
    cpSync(join(artifacts, "ease"), join(other, "ease"), { recursive: true });
    await expect(exportSaved("ease", readSplit(other), other)).rejects.toThrow(
      /trained on ml-100k, protocol recbole, seed 4, but the split in .* is .*seed 9: train ease again/,
    );
  });

  it("says which split file is broken and how to rewrite it", () => {
    const broken = mkdtempSync(join(tmpdir(), "edgerec-broken-"));
    cpSync(join(artifacts, SPLIT_DIR), join(broken, SPLIT_DIR), { recursive: true });
    const test = join(broken, SPLIT_DIR, SPLIT_FILES.test);
    cpSync(test, `${test}.orig`);
    const lines = readFileSync(`${test}.orig`, "utf8").split("\n");
    lines[3] = "12\tabc";
    writeFileSync(test, lines.join("\n"));
    expect(() => readSplit(broken)).toThrow(/test\.tsv, line 4: not "user id<TAB>movie id"; run `npm run train` again/);
  });
});

describe("runPipeline with export best", () => {
  it("exports only the exportable model with the best valid NDCG@10, from its saved state, once all are trained", async () => {
    const artifacts = mkdtempSync(join(tmpdir(), "edgerec-best-"));
    const order: string[] = [];
    const run = await runPipeline({
      data: smallDataset(),
      dataset: "ml-100k",
      protocol: "recbole",
      seed: 4,
      models: [ease, { model: mf, params: { dim: 8, epochs: 3, batch: 512, eval_every: 1, threads: 1 } }],
      params: { lambda: 50 },
      tune: false,
      artifacts,
      export: "best",
      onModelTrained: (m) => {
        order.push(`trained ${m.model}`);
      },
      onModelReady: (model) => {
        order.push(`ready ${model}`);
      },
    });
    const best = [...run.results].sort((a, b) => b.valid!["ndcg@10"] - a.valid!["ndcg@10"])[0].model;
    expect(order).toEqual(["trained ease", "trained mf", `ready ${best}`]);
    expect([...run.manifests.keys()]).toEqual([best]);
    const other = best === "ease" ? "mf" : "ease";
    expect(existsSync(join(artifacts, other, BUNDLE_FILES.manifest))).toBe(false);
  });
});

describe("saved model state", () => {
  it("reads back every typed array and plain value it was given, aligned", () => {
    const tree = {
      kind: "mix",
      items: 3,
      parts: [
        { weight: 0.25, foldIn: { kind: "item-item", items: 3, weights: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]) } },
        { weight: 0.75, foldIn: { kind: "propagated", compact: { values: Int8Array.from([-1, 2, 127]), scales: Float32Array.from([0.5, 1, 2]) } } },
      ],
      ids: Int32Array.from([7, -3]),
      wide: Float64Array.from([Math.PI]),
      none: null,
    };
    const back = decodeTables(encodeTables(tree)) as typeof tree;
    expect(back).toEqual(tree);
    expect(back.parts[1].foldIn.compact?.scales).toBeInstanceOf(Float32Array);
    expect(back.wide.byteOffset % 8).toBe(0);
  });

  it("refuses bytes that are not a saved state", () => {
    expect(() => decodeTables(new TextEncoder().encode("not a state file"), FOLDIN_STATE_FILE)).toThrow(/foldin\.state: not a saved model state/);
  });
});
