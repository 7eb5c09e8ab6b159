// How good fold-in is, measured two ways (the README's fold-in table):
// - same users: on the normal split, each model's trained user vectors against fold-in of the
//   same users from train + valid, both ranked for test (masking train + valid);
// - held-out users (strong generalization, Liang et al. 2018): a seeded share of users never
//   enters training; each folds in 80% of their positives and is ranked for the other 20%.
// Fold-in-only parameters (LightGCN's ego weight) are chosen on valid, by folding in train
// histories and ranking valid; test is read once per model and setting.
import type { MetricValues } from "../eval/metrics.ts";
import { type Evaluation, evaluateMatrices } from "../eval/evaluate.ts";
import { type FoldIn, foldInScorer } from "../models/foldin.ts";
import { modelFactory } from "../models/registry.ts";
import type { Params, Recommender } from "../models/recommender.ts";
import { trainModel, SELECTION_METRIC } from "../pipeline/train-model.ts";
import { csrUnion } from "../protocol/csr.ts";
import { type Split, holdOutUsers } from "../protocol/protocols.ts";

/** Fold-in-only parameters tried on valid, per model (others have none). */
export const FOLDIN_GRIDS: Record<string, Params[]> = {
  lightgcn: [{ foldin_ego: 0 }, { foldin_ego: 1 }, { foldin_ego: 2 }, { foldin_ego: 4 }, { foldin_ego: 8 }, { foldin_ego: "fit" }],
  mf: [{ foldin_ego: 1 }],
};

export interface FoldInRow {
  model: string;
  setting: "same users" | "held-out users";
  /** Users ranked. */
  users: number;
  /** Test metrics of the trained user vectors (same users only). */
  trained: MetricValues | null;
  foldIn: MetricValues;
  params: Params;
  foldInParams: Params;
  tuning: { params: Params; valid: MetricValues }[];
}

export interface FoldInStudy {
  dataset: string;
  protocol: string;
  seed: number;
  heldOutFraction: number;
  rows: FoldInRow[];
}

const KS = [10, 20];

async function chooseOnValid(model: Recommender, split: Split, grid: Params[]): Promise<{ foldIn: FoldIn; params: Params; tuning: FoldInRow["tuning"] }> {
  const candidates = grid.length > 0 ? grid : [{}];
  if (!split.valid) throw new Error("the fold-in study needs a protocol with a valid set");
  let best: { foldIn: FoldIn; params: Params; score: number } | null = null;
  const tuning: FoldInRow["tuning"] = [];
  for (const params of candidates) {
    const f = model.foldIn?.(params);
    if (!f) throw new Error(`${model.name} has no fold-in`);
    const valid = (await evaluateMatrices(foldInScorer(f, split.train), f.items, split.train, split.valid, { ks: KS })).metrics;
    tuning.push({ params, valid });
    if (!best || valid[SELECTION_METRIC] > best.score) best = { foldIn: f, params, score: valid[SELECTION_METRIC] };
  }
  return { foldIn: best!.foldIn, params: best!.params, tuning: candidates.length > 1 ? tuning : [] };
}

function foldInRow(
  model: string,
  setting: FoldInRow["setting"],
  e: Evaluation,
  fitted: Recommender,
  chosen: Awaited<ReturnType<typeof chooseOnValid>>,
): FoldInRow {
  return { model, setting, users: e.users, trained: null, foldIn: e.metrics, params: fitted.params, foldInParams: chosen.params, tuning: chosen.tuning };
}

export async function foldInStudy(split: Split, models: string[], heldOutFraction: number, log: (line: string) => void): Promise<FoldInStudy> {
  const rows: FoldInRow[] = [];
  const held = holdOutUsers(split, heldOutFraction, split.seed);
  for (const name of models) {
    const factory = modelFactory(name);
    const grid = FOLDIN_GRIDS[name] ?? [];

    log(`${name}: same users (train on the normal split, fold in train + valid, rank test)`);
    let row: FoldInRow | null = null;
    const trained = await trainModel(factory, split, {
      log,
      withModel: async (model) => {
        const chosen = await chooseOnValid(model, split, grid);
        const history = csrUnion(split.train, split.valid!);
        const e = await evaluateMatrices(foldInScorer(chosen.foldIn, history), split.counts.items, history, split.test, { ks: KS });
        row = foldInRow(name, "same users", e, model, chosen);
      },
    });
    rows.push({ ...row!, trained: trained.test });

    log(`${name}: held-out users (${held.heldOut.users.length} users never trained on; fold in 80%, rank 20%)`);
    await trainModel(factory, held.split, {
      log,
      withModel: async (model) => {
        const chosen = await chooseOnValid(model, held.split, grid);
        const e = await evaluateMatrices(foldInScorer(chosen.foldIn, held.heldOut.foldIn), split.counts.items, held.heldOut.foldIn, held.heldOut.target, {
          ks: KS,
        });
        rows.push(foldInRow(name, "held-out users", e, model, chosen));
      },
    });
  }
  return { dataset: split.dataset, protocol: split.protocol, seed: split.seed, heldOutFraction, rows };
}

const f4 = (x: number): string => x.toFixed(4);

/** Markdown table: each fold-in row beside trained-in LightGCN on the same users. */
export function foldInTable(study: FoldInStudy, reference = "lightgcn"): string {
  const ref = study.rows.find((r) => r.model === reference && r.setting === "same users")?.trained ?? null;
  const lines = [
    "| model | users | how the user vector is made | Recall@10 | NDCG@10 | vs trained-in LightGCN (R@10 / N@10) |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  // Ratios only where the users and targets are the same as the reference's.
  const ratio = (m: MetricValues, setting: FoldInRow["setting"]): string =>
    ref && setting === "same users" ? `${(m["recall@10"] / ref["recall@10"]).toFixed(3)}x / ${(m["ndcg@10"] / ref["ndcg@10"]).toFixed(3)}x` : "";
  for (const r of study.rows) {
    const how = Object.keys(r.foldInParams).length
      ? `fold-in (${Object.entries(r.foldInParams)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ")})`
      : "fold-in";
    if (r.trained)
      lines.push(
        `| ${r.model} | ${r.setting} (${r.users}) | trained | ${f4(r.trained["recall@10"])} | ${f4(r.trained["ndcg@10"])} | ${ratio(r.trained, r.setting)} |`,
      );
    lines.push(
      `| ${r.model} | ${r.setting} (${r.users}) | ${how} | ${f4(r.foldIn["recall@10"])} | ${f4(r.foldIn["ndcg@10"])} | ${ratio(r.foldIn, r.setting)} |`,
    );
  }
  return lines.join("\n");
}
