// npm run bench:dislikes: does a dislike help? The protocol keeps ratings >= 3 as positives and
// drops the rest, so a user's ratings below 3 (from the raw data) are a negative signal the model
// never saw. Two rules, measured on the same test users as the protocol (train + valid masked):
//   - "never recommended": the disliked movies are masked too;
//   - "pushed down": also, every movie loses lambda x the score the disliked movies alone give it
//     (the model's own fold-in of the dislikes: for EASE the dislikes' indicator row times B), so
//     movies like the disliked ones sink. The Worker does the same with its fold-in graph.
// lambda is chosen on valid (NDCG@10); test is read for every setting. Model: EASE (one fit).
// Prints progress on stderr and one JSON line at the end.
import { Command } from "commander";
import { sharedKernelMemory } from "../src/engine/create.ts";
import { type Evaluation, evaluateMatrices } from "../src/eval/evaluate.ts";
import { modelFactory } from "../src/models/registry.ts";
import { prepare } from "../src/pipeline/prepare.ts";
import { type Csr, csrFromTriples, csrUnion, rowOf } from "../src/protocol/csr.ts";
import { DEFAULT_SEED, evaluationMask } from "../src/protocol/protocols.ts";

const LAMBDAS = [0.1, 0.25, 0.5, 1];

const opts = new Command("bench:dislikes")
  .description("Measure excluding and pushing down movies like a user's low ratings (< 3, which the protocol drops) on test recall/NDCG.")
  .option("--dataset <name>", "MovieLens dataset", "ml-1m")
  .option("--protocol <name>", "protocol", "recbole")
  .option("--lambda <n>", "EASE's lambda", Number, 1000)
  .option("--from <dir>", "datasets folder", process.env.MOVIELENS_DIR)
  .parse()
  .opts<{ dataset: string; protocol: string; lambda: number; from?: string }>();

const log = (line: string): void => console.error(line);
const { data, split } = await prepare({ dataset: opts.dataset, protocol: opts.protocol, seed: DEFAULT_SEED, from: opts.from, log });
const items = split.counts.items;
const userIndex = new Map(Array.from(split.userIds, (id, u) => [id, u]));
const itemIndex = new Map(Array.from(split.itemIds, (id, i) => [id, i]));

// every rating below 3 of a split user on a split movie
const nr: number[] = [];
const nc: number[] = [];
const r = data.ratings;
for (let p = 0; p < r.length; p++) {
  if (!(r.rating[p] < 3)) continue;
  const u = userIndex.get(r.user[p]);
  const i = itemIndex.get(r.item[p]);
  if (u === undefined || i === undefined) continue;
  nr.push(u);
  nc.push(i);
}
const negatives: Csr = csrFromTriples(split.userIds.length, items, nr, nc);
log(`${nr.length} ratings below 3 on the split's movies (${(nr.length / split.userIds.length).toFixed(1)} per user)`);

const factory = modelFactory("ease");
const model = factory.create({ ...factory.defaults, lambda: opts.lambda });
await model.fit(split.train, { seed: split.seed, log, memory: sharedKernelMemory() });
const foldIn = model.foldIn?.();
if (foldIn?.kind !== "item-item") throw new Error("ease has no item-item fold-in");
const b = foldIn.weights;

/** EASE's scores minus lambda x the dislikes' fold-in scores. */
function pushedDown(lambda: number) {
  return {
    score(from: number, to: number, out: Float32Array): void {
      model.score(from, to, out);
      if (lambda === 0) return;
      for (let u = from; u < to; u++) {
        const row = out.subarray((u - from) * items, (u - from + 1) * items);
        for (const d of rowOf(negatives, u)) {
          const w = b.subarray(d * items, (d + 1) * items);
          for (let j = 0; j < items; j++) row[j] -= lambda * w[j];
        }
      }
    },
  };
}

const ks = [10, 20];
const run = (lambda: number, mask: Csr, target: Csr): Promise<Evaluation> => evaluateMatrices(pushedDown(lambda), items, mask, target, { ks });
const testMask = evaluationMask(split, "test");
if (!split.valid) throw new Error(`protocol ${opts.protocol} has no valid set to choose lambda on`);
const pick = (e: Evaluation) => ({ "recall@10": e.metrics["recall@10"], "ndcg@10": e.metrics["ndcg@10"] });

const rows: { rule: string; lambda: number; valid: ReturnType<typeof pick>; test: ReturnType<typeof pick> }[] = [];
const baseline = {
  rule: "baseline (train + valid masked)",
  lambda: 0,
  valid: pick(await run(0, split.train, split.valid)),
  test: pick(await run(0, testMask, split.test)),
};
rows.push(baseline);
const exclude = {
  rule: "never recommended (dislikes masked)",
  lambda: 0,
  valid: pick(await run(0, csrUnion(split.train, negatives), split.valid)),
  test: pick(await run(0, csrUnion(testMask, negatives), split.test)),
};
rows.push(exclude);
for (const lambda of LAMBDAS) {
  const row = {
    rule: "masked and pushed down",
    lambda,
    valid: pick(await run(lambda, csrUnion(split.train, negatives), split.valid)),
    test: pick(await run(lambda, csrUnion(testMask, negatives), split.test)),
  };
  log(
    `lambda ${lambda}: valid ndcg@10 ${row.valid["ndcg@10"].toFixed(4)}, test recall@10 ${row.test["recall@10"].toFixed(4)} ndcg@10 ${row.test["ndcg@10"].toFixed(4)}`,
  );
  rows.push(row);
}
model.dispose?.();
const pushed = rows.slice(2);
const chosen = pushed.reduce((best, row) => (row.valid["ndcg@10"] > best.valid["ndcg@10"] ? row : best), pushed[0]);
const keeps = (row: (typeof rows)[number]): boolean => row.test["recall@10"] >= baseline.test["recall@10"] && row.test["ndcg@10"] >= baseline.test["ndcg@10"];
console.log(
  JSON.stringify({
    dataset: opts.dataset,
    protocol: opts.protocol,
    model: "ease",
    negatives: nr.length,
    rows,
    chosen_lambda: chosen.lambda,
    exclude_keeps: keeps(exclude),
    push_keeps: keeps(chosen),
  }),
);
