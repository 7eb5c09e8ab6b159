// The training loop shared by the embedding models: shuffled BPR batches, Adam on every
// parameter tensor, valid evaluation every few epochs with early stopping on NDCG@10, the best
// checkpoint kept and restored, per-epoch records, and a clean stop on abort.
import type { AdamSettings, GraphBackend } from "../../engine/backend.ts";
import type { MetricValues } from "../../contract/artifacts.ts";
import type { Csr } from "../../protocol/csr.ts";
import { progressBar } from "../../util/progress.ts";
import { Rng } from "../../util/rng.ts";
import type { EpochRecord, FitContext, FitInfo } from "../recommender.ts";
import type { TrainableCore } from "./core.ts";
import { BprSampler } from "./sampler.ts";

export interface TrainSettings {
  epochs: number;
  batch: number;
  adam: AdamSettings;
  /** Evaluations without improvement of valid NDCG@10 before stopping. */
  patience: number;
  evalEvery: number;
  /** Multiply the learning rate by this factor after every epoch (1 = constant). */
  lrDecay: number;
}

export const STOP_METRIC = "ndcg@10";

export async function trainCore(
  core: TrainableCore,
  backend: GraphBackend,
  train: Csr,
  s: TrainSettings,
  ctx: FitContext,
  /** Refreshes the model's final embeddings and returns valid metrics (null: no valid set). */
  validate: () => Promise<MetricValues | null>,
  label: string,
): Promise<FitInfo> {
  const started = performance.now();
  const rng = new Rng(ctx.seed ^ 0x5bd1e995);
  const sampler = new BprSampler(train, rng);
  const batch = { users: new Int32Array(s.batch), pos: new Int32Array(s.batch), neg: new Int32Array(s.batch) };
  const triples = backend.triples(s.batch);
  const moments = core.params.map((p) => ({ m: backend.zeros("f32", p.length), v: backend.zeros("f32", p.length) }));
  const steps = Math.ceil(sampler.size / s.batch);
  let best: { epoch: number; score: number; params: Float32Array[] } | null = null;
  let sinceBest = 0;
  let step = 0;
  let epoch = 0;
  let stopped: FitInfo["stopped"] = "max-epochs";
  const adam = { ...s.adam };
  const bar = progressBar(label, s.epochs, "{bar} epoch {value}/{total} | loss {loss} | {epochSeconds} s/epoch | valid ndcg@10 {valid} (best {best})", {
    linesWithoutTty: true,
  });

  try {
    while (epoch < s.epochs) {
      if (ctx.signal?.aborted) {
        stopped = "interrupted";
        break;
      }
      epoch++;
      const t0 = performance.now();
      sampler.shuffle();
      for (let k = 0; k < steps; k++) {
        const start = k * s.batch;
        const count = Math.min(s.batch, sampler.size - start);
        sampler.fill(start, count, batch.users, batch.pos, batch.neg);
        backend.setTriples(triples, batch.users, batch.pos, batch.neg, count);
        core.lossAndGrad(triples);
        step++;
        for (const [i, p] of core.params.entries()) backend.adam(p, core.grads[i], moments[i].m, moments[i].v, step, core.gradScales[i], adam);
        // let Ctrl-C through between steps, and keep a GPU's queue from running far behind
        if ((k & 15) === 15) await backend.settle();
        if (ctx.signal?.aborted) break;
      }
      const { bpr: bprSum, reg: regSum } = core.losses(await backend.takeLosses());
      adam.lr *= s.lrDecay;
      const record: EpochRecord = {
        epoch,
        loss: (bprSum + regSum) / sampler.size,
        bpr: bprSum / sampler.size,
        reg: regSum / sampler.size,
        seconds: (performance.now() - t0) / 1000,
      };
      if (epoch % s.evalEvery === 0 || epoch === s.epochs) {
        const metrics = await validate();
        if (metrics) {
          record.valid = metrics;
          const score = metrics[STOP_METRIC];
          if (!best || score > best.score) {
            best = { epoch, score, params: await Promise.all(core.params.map((p) => backend.download(p))) };
            sinceBest = 0;
          } else {
            sinceBest++;
          }
        }
      }
      ctx.onEpoch?.(record);
      bar.update(epoch, {
        loss: record.loss.toFixed(4),
        epochSeconds: record.seconds.toFixed(2),
        valid: record.valid ? record.valid[STOP_METRIC].toFixed(4) : "-",
        best: best ? `${best.score.toFixed(4)} @${best.epoch}` : "-",
      });
      if (ctx.signal?.aborted) {
        stopped = "interrupted";
        break;
      }
      if (best && sinceBest >= s.patience) {
        stopped = "converged";
        break;
      }
    }
  } finally {
    bar.stop();
  }
  // The caller recomputes its final embeddings from the restored parameters.
  if (best) for (const [i, p] of core.params.entries()) backend.write(p, best.params[i]);
  return { epochs: epoch, best_epoch: best?.epoch ?? epoch, train_seconds: round((performance.now() - started) / 1000), stopped };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
