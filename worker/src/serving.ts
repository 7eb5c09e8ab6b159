// What a loaded model answers with, built once per load from a plan that model-load.ts makes
// after every check of the bundle has passed: the Ranker, the Explainer and the similar-movies
// graph (scoring.ts). All or nothing: ONNX sessions hold wasm memory outside the JS heap, so a
// build that fails releases every session it had made before it throws (a failed load used to
// keep them: 1.9 MB of ORT's wasm memory per failed load of an ML-100K bundle, `npm run
// bench:failed-loads`).
import type { Int8Table } from "../../training/src/contract/artifacts.ts";
import { type Int8Ranker, int8Ranker } from "../../training/src/shared/int8-ranker.ts";
import { ApiError } from "./errors.ts";
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
  /** Every ONNX session built, each once, those built on first use included: release() frees them. */
  sessions: SessionSet;
}

/**
 * What the load hands ORT (graph-refusals.ts): `checkGraph` has ORT check a graph as it would
 * build it (its skeleton), keeping nothing; `InferenceSession.create` then builds it without
 * checking again.
 */
export type CheckingOrt = Ort & { checkGraph(model: Uint8Array): Promise<void> };

/** Called with each graph's session build time (Server-Timing on the request that waited for a load). */
export type SessionTimer = (graph: string, ms: number) => void;

/** Releases sessions, each even when another's release fails; the first failure is rethrown. */
export async function releaseSessions(sessions: readonly Session[]): Promise<void> {
  const results = await Promise.allSettled(sessions.map((s) => s.release()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * A model's sessions, those built at load and those built later on first use: released together
 * once, and a session finished after that release is released at once (a request that started
 * a build just before its model was replaced must not leave it behind).
 */
export class SessionSet {
  private readonly built: Session[] = [];
  private over = false;

  get released(): boolean {
    return this.over;
  }

  /** The sessions built so far (tests). */
  get list(): readonly Session[] {
    return this.built;
  }

  /** Keeps `s` for release(); false (and `s` released) when the set was released already. */
  async add(s: Session): Promise<boolean> {
    if (!this.over) {
      this.built.push(s);
      return true;
    }
    await s.release();
    return false;
  }

  release(): Promise<void> {
    this.over = true;
    return releaseSessions(this.built.splice(0));
  }
}

/**
 * A graph whose session is built on its first use, not at load: the first list of a known user
 * needs model.onnx and the reasons, not foldin.onnx (new users) or similar.onnx (GET
 * /movies/:id/similar). Built once; a build that fails answers every use with the same 503 and
 * keeps nothing (the session factory refuses those bytes without ORT thereafter, graph-refusals.ts).
 */
export type LazySession = () => Promise<Session>;

function lazySession(build: () => Promise<Session>, what: string): LazySession {
  let made: Promise<Session> | null = null;
  return () => {
    made ??= build().catch((err: unknown) => {
      if (err instanceof ApiError) throw err;
      // the cause goes to the log (console: this module runs in Node too); the client gets a message without internals
      console.error(`building ${what} on first use failed`, err);
      throw new ApiError(503, "model_unavailable", `the served model's ${what} graph could not be built; other answers are not affected`);
    });
    return made;
  };
}

/** A graph asked of a model released since (a request that held it past a swap's drain limit). */
const replaced = (graph: string): ApiError =>
  new ApiError(503, "model_unavailable", `the ${graph} graph was asked of a model no longer served; the next request uses the model served now`);

/**
 * Builds what the plan says; the compiled kernel is needed when a part is ranked by it. The
 * sessions the first list needs are built now; the fold-in's and similar movies' are checked now
 * (ORT sees their skeletons, so a graph it refuses still refuses the bundle at load) and built on
 * first use.
 */
export async function buildServing(plan: ServingPlan, ort: CheckingOrt, kernel: WebAssembly.Module | undefined, timer?: SessionTimer): Promise<Serving> {
  const sessions = new SessionSet();
  // one at a time: ORT copies each model into its wasm memory while it builds the session, and
  // that memory never shrinks, so building them together would leave room for all the copies
  const session = async (bytes: Uint8Array, graph: string): Promise<Session> => {
    const started = performance.now();
    const s = await ort.InferenceSession.create(bytes);
    if (!(await sessions.add(s))) throw replaced(graph);
    timer?.(graph, performance.now() - started);
    return s;
  };
  const later = async (buffer: ArrayBuffer, graph: string): Promise<LazySession> => {
    const bytes = new Uint8Array(buffer);
    const started = performance.now();
    await ort.checkGraph(bytes);
    timer?.(`${graph}-check`, performance.now() - started);
    return lazySession(() => (sessions.released ? Promise.reject(replaced(graph)) : session(bytes, graph)), graph);
  };
  const int8 = (table: Int8Table): Int8Ranker => {
    if (!kernel) throw new Error("the bundle is ranked by the int8 kernel, and the load was given no compiled kernel");
    return int8Ranker(kernel, table);
  };
  try {
    const ranker = await buildRanker(plan, ort, session, later, int8);
    const e = plan.explainer;
    let explainer = noExplainer;
    if (e?.kind === "int8-kernel") explainer = kernelExplainer(int8(e.normalized));
    else if (e?.kind === "onnx") explainer = onnxExplainer(ort, await session(new Uint8Array(e.because), "because"));
    const similar = plan.similar ? onnxSimilar(ort, plan.items, await later(plan.similar, "similar")) : null;
    return { ranker, explainer, similar, sessions };
  } catch (err) {
    // the kernel instances made so far are garbage once this throws; the sessions are not
    await sessions.release().catch(() => {});
    throw err;
  }
}

async function buildRanker(
  { items, ranker: r }: ServingPlan,
  ort: Ort,
  session: (bytes: Uint8Array, graph: string) => Promise<Session>,
  later: (bytes: ArrayBuffer, graph: string) => Promise<LazySession>,
  int8: (table: Int8Table) => Int8Ranker,
): Promise<Ranker> {
  if (r.kind === "int8-kernel") return kernelRanker(ort, items, await session(new Uint8Array(r.vector), "vector"), int8(r.candidates));
  const recs = await session(new Uint8Array(r.model), "model");
  const foldin = r.foldin === "model" ? async () => recs : r.foldin ? await later(r.foldin, "foldin") : null;
  return onnxRanker(ort, items, recs, r.history, foldin);
}
