// What a loaded model answers with, built once per load from a plan that model-load.ts makes
// after every check of the bundle has passed: the Ranker, the Explainer and the similar-movies
// graph (scoring.ts). All or nothing: ONNX sessions hold wasm memory outside the JS heap, so a
// build that fails releases every session it had made before it throws (a failed load used to
// keep them: 1.9 MB of ORT's wasm memory per failed load of an ML-100K bundle, `npm run
// bench:failed-loads`).
import type { Int8Table } from "../../training/src/contract/artifacts.ts";
import { type Int8Ranker, int8Ranker } from "../../training/src/shared/int8-ranker.ts";
import {
  type Explainer,
  type Ranker,
  type SimilarMovies,
  kernelExplainer,
  kernelRanker,
  noExplainer,
  onnxExplainer,
  onnxRanker,
  onnxSimilar,
} from "./scoring.ts";

type Session = import("onnxruntime-web").InferenceSession;
/** What the Worker uses of onnxruntime-web. */
export type Ort = Pick<typeof import("onnxruntime-web"), "InferenceSession" | "Tensor">;

/** How a verified bundle serves: which files make which part. */
export interface ServingPlan {
  /** Items in the model (no ranking returns more than remain after exclusion). */
  items: number;
  ranker:
    | { kind: "int8-kernel"; vector: ArrayBuffer; candidates: Int8Table }
    /** `foldin`: foldin.onnx, "model" when model.onnx ranks histories itself, null for no fold-in. */
    | { kind: "onnx"; model: ArrayBuffer; history: boolean; foldin: ArrayBuffer | "model" | null };
  explainer: { kind: "int8-kernel"; normalized: Int8Table } | { kind: "onnx"; because: ArrayBuffer } | null;
  similar: ArrayBuffer | null;
}

export interface Serving {
  ranker: Ranker;
  explainer: Explainer;
  similar: SimilarMovies | null;
  /** Every ONNX session built, each once (model.onnx may also be the fold-in): releaseSessions frees them. */
  sessions: readonly Session[];
}

/** Releases sessions, each even when another's release fails; the first failure is rethrown. */
export async function releaseSessions(sessions: readonly Session[]): Promise<void> {
  const results = await Promise.allSettled(sessions.map((s) => s.release()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Builds what the plan says; the compiled kernel is needed when a part is ranked by it. */
export async function buildServing(plan: ServingPlan, ort: Ort, kernel: WebAssembly.Module | undefined): Promise<Serving> {
  const sessions: Session[] = [];
  // one at a time: ORT copies each model into its wasm memory while it builds the session, and
  // that memory never shrinks, so building them together would leave room for all the copies
  const session = async (bytes: ArrayBuffer): Promise<Session> => {
    const s = await ort.InferenceSession.create(new Uint8Array(bytes));
    sessions.push(s);
    return s;
  };
  const int8 = (table: Int8Table): Int8Ranker => {
    if (!kernel) throw new Error("the bundle is ranked by the int8 kernel, and the load was given no compiled kernel");
    return int8Ranker(kernel, table);
  };
  try {
    const ranker = await buildRanker(plan, ort, session, int8);
    const similar = plan.similar ? onnxSimilar(ort, plan.items, await session(plan.similar)) : null;
    const e = plan.explainer;
    let explainer = noExplainer;
    if (e?.kind === "int8-kernel") explainer = kernelExplainer(int8(e.normalized));
    else if (e?.kind === "onnx") explainer = onnxExplainer(ort, await session(e.because));
    return { ranker, explainer, similar, sessions };
  } catch (err) {
    // the kernel instances made so far are garbage once this throws; the sessions are not
    await releaseSessions(sessions).catch(() => {});
    throw err;
  }
}

async function buildRanker(
  { items, ranker: r }: ServingPlan,
  ort: Ort,
  session: (bytes: ArrayBuffer) => Promise<Session>,
  int8: (table: Int8Table) => Int8Ranker,
): Promise<Ranker> {
  if (r.kind === "int8-kernel") return kernelRanker(ort, items, await session(r.vector), int8(r.candidates));
  const recs = await session(r.model);
  const foldin = r.foldin === "model" ? recs : r.foldin ? await session(r.foldin) : null;
  return onnxRanker(ort, items, recs, r.history, foldin);
}
