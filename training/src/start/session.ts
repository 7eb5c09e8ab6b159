// The order of npm start's work, apart from how each step is done (the CLI passes child
// processes and wrangler dev; the tests pass fakes): the quick model first (trained, or reused
// from an earlier start), published and served; then the slower ones trained one after the other
// in the background, each published as soon as it beats the served one on valid NDCG@10, so the
// running Worker swaps to it.

export type TrainOutcome = "done" | "interrupted";

export interface StartSteps {
  /** True when an earlier start trained this model with the same data, code and options. */
  reusable(model: string): boolean;
  /** Trains (and exports) the model; "interrupted" after Ctrl-C. Throws when training fails. */
  train(model: string): Promise<TrainOutcome>;
  /** Marks a completed training as reusable by the next start. */
  record(model: string): void;
  /** The exported model's valid NDCG@10. */
  score(model: string): number | null;
  /** Publishes the model to the store the Worker reads. */
  publish(model: string): Promise<void>;
  /** Starts serving (resolves once the server answers); runs while the first model is published. */
  serve(): Promise<void>;
  /** Called once the first model is published and served. */
  ready?(): void;
  log(line: string): void;
}

export interface StartPlan {
  /** Trained (or reused) and published before serving starts. */
  first: string;
  /** Trained after serving started, in this order. */
  background: string[];
  /** Train every model, reusing nothing. */
  retrain: boolean;
  /** false: train everything in the foreground, publish the best, and do not serve. */
  serve: boolean;
}

export interface Served {
  model: string;
  score: number;
}

export interface StartResult {
  /** null when the first model's training was interrupted: nothing was published. */
  served: Served | null;
  /** Settles when the background training is over (at once when there is none): what is served then. */
  background: Promise<Served | null>;
}

function fmt(score: number): string {
  return score.toFixed(4);
}

export async function runStart(steps: StartSteps, plan: StartPlan): Promise<StartResult> {
  const reused = new Set(plan.retrain ? [] : [plan.first, ...plan.background].filter((m) => steps.reusable(m)));
  const scoreOf = (model: string): number => {
    const s = steps.score(model);
    if (s === null) throw new Error(`${model} has no valid NDCG@10 in its metrics or manifest: cannot compare it with the served model`);
    return s;
  };

  /** Trains one model; true when it completed (and was recorded for reuse). */
  const trainOne = async (model: string): Promise<boolean> => {
    const outcome = await steps.train(model);
    if (outcome === "interrupted") {
      steps.log(`${model}: training was interrupted; it is not published and the next npm start trains it again`);
      return false;
    }
    steps.record(model);
    return true;
  };

  const nothing: StartResult = { served: null, background: Promise.resolve(null) };
  if (reused.size > 0) {
    steps.log(`reusing ${[...reused].join(", ")}, trained by an earlier start with the same data, code and options (--retrain trains again)`);
  }
  if (!reused.has(plan.first) && !(await trainOne(plan.first))) return nothing;
  const pending = plan.background.filter((m) => !reused.has(m));
  if (!plan.serve) {
    for (const model of pending) if (!(await trainOne(model))) return nothing;
  }
  const ready = plan.serve ? [plan.first, ...plan.background.filter((m) => reused.has(m))] : [plan.first, ...plan.background];
  // the best available now, on valid NDCG@10 (ties: the earlier in the list, the quicker model)
  let served = ready.map((model) => ({ model, score: scoreOf(model) })).reduce((best, c) => (c.score > best.score ? c : best));
  const publishing = steps.publish(served.model).then(() => steps.log(`published ${served.model}, the best ready now (valid NDCG@10 ${fmt(served.score)})`));
  if (!plan.serve) {
    await publishing;
    return { served, background: Promise.resolve(served) };
  }
  // wrangler dev starts while the model uploads (both take seconds): its readiness check loads no
  // model, and the first request after publishing loads the new one
  const serving = steps.serve();
  // both settle before a failure is thrown: the caller then stops a server that did start
  const settled = await Promise.allSettled([publishing, serving]);
  for (const r of settled) if (r.status === "rejected") throw r.reason;
  steps.ready?.();

  const background = (async (): Promise<Served> => {
    if (pending.length > 0) steps.log(`training in the background: ${pending.join(", ")}; each is served as soon as it beats ${served.model} on valid NDCG@10`);
    for (const model of pending) {
      let completed: boolean;
      try {
        completed = await trainOne(model);
      } catch (err) {
        steps.log(`${model}: training failed (${(err as Error).message}); still serving ${served.model}`);
        continue;
      }
      if (!completed) break;
      const score = scoreOf(model);
      if (score <= served.score) {
        steps.log(`${model}: valid NDCG@10 ${fmt(score)}, not better than ${served.model}'s ${fmt(served.score)}: still serving ${served.model}`);
        continue;
      }
      try {
        await steps.publish(model);
      } catch (err) {
        steps.log(`${model}: publishing failed (${(err as Error).message}); still serving ${served.model}`);
        continue;
      }
      steps.log(`serving ${model} now (valid NDCG@10 ${fmt(score)}, up from ${served.model}'s ${fmt(served.score)})`);
      served = { model, score };
    }
    steps.log(`background training over: serving ${served.model} (valid NDCG@10 ${fmt(served.score)})`);
    return served;
  })();
  return { served, background };
}
