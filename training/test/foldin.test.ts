// Fold-in: each model's description matches a brute-force computation of what the model does
// for a user outside training, and each exported fold-in graph, run in onnxruntime-web, agrees
// with the plain TypeScript fold-in on random histories.
import * as ort from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import { FOLDIN_GRAPH } from "../src/contract/artifacts.ts";
import { buildFoldInGraph } from "../src/export/onnx-graph.ts";
import { topK } from "../src/util/topk.ts";
import { ease } from "../src/models/ease.ts";
import {
  type FoldIn,
  type ItemItemFoldIn,
  type KnownUserFoldIn,
  type LeastSquaresFoldIn,
  type MixFoldIn,
  type PropagatedFoldIn,
  foldInScorer,
  foldInScores,
  compactFoldIn,
  roundToHalf,
  recencyWeights,
  takesUser,
  unordered,
} from "../src/models/foldin.ts";
import { ials } from "../src/models/ials.ts";
import { lightgcn, mf } from "../src/models/lightgcn.ts";
import { propagationPlan } from "../src/models/embedding-model.ts";
import { normalizedAdjacency } from "../src/models/graph/adjacency.ts";
import { LightGcnCore } from "../src/models/graph/lightgcn-core.ts";
import { csrFromTriples, rowOf } from "../src/protocol/csr.ts";
import { holdOutUsers, type Split } from "../src/protocol/protocols.ts";
import { Rng } from "../src/util/rng.ts";
import { cpuBackends, randomTrain } from "./graph-helpers.ts";

ort.env.wasm.numThreads = 1;
const ctx = { seed: 5, log: () => {} };

function randomHistory(rng: Rng, items: number, max: number): number[] {
  const h = new Set<number>();
  const n = 1 + rng.int(max);
  while (h.size < n) h.add(rng.int(items));
  return [...h];
}

function randomTable(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

function randomFoldIns(rng: Rng): FoldIn[] {
  const items = 37;
  const dim = 6;
  const factors = randomTable(rng, items * dim).map((v) => v * 0.3);
  const gram = new Float32Array(dim * dim);
  for (let i = 0; i < items; i++) for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) gram[a * dim + b] += factors[i * dim + a] * factors[i * dim + b];
  for (let a = 0; a < dim; a++) gram[a * dim + a] += 2;
  const propagated: PropagatedFoldIn = {
    kind: "propagated",
    items,
    dim,
    contributions: randomTable(rng, items * dim),
    candidates: randomTable(rng, items * dim),
  };
  const leastSquares: LeastSquaresFoldIn = { kind: "least-squares", items, dim, factors, gram, alpha: 3 };
  const itemItem: ItemItemFoldIn = { kind: "item-item", items, weights: roundToHalf(randomTable(rng, items * items)) };
  const mix: MixFoldIn = {
    kind: "mix",
    items,
    parts: [
      { weight: 0.3, foldIn: itemItem },
      { weight: 0.5, foldIn: propagated },
      { weight: 0.2, foldIn: leastSquares },
    ],
  };
  const knownUser: KnownUserFoldIn = { kind: "known-user", items, dim, users: randomTable(rng, TRAINED_USERS * dim), foldIn: propagated };
  const served: MixFoldIn = {
    kind: "mix",
    items,
    parts: [
      { weight: 0.3, foldIn: itemItem },
      { weight: 0.7, foldIn: knownUser },
    ],
  };
  // recency: a new user's history in time order, its latest entries weighing more
  const recent: MixFoldIn = { ...served, recency: 2.5 };
  const recentNoUser: MixFoldIn = { kind: "mix", items, parts: [mix.parts[0], mix.parts[1]], recency: 4 };
  return [propagated, leastSquares, itemItem, mix, knownUser, served, compactFoldIn(propagated), recent, recentNoUser];
}

/** Trained users of the random known-user fold-ins. */
const TRAINED_USERS = 9;
/** The graph names with a user input, for fold-ins that read one. */
const WITH_USER = { inputs: { user: "user", ...FOLDIN_GRAPH.inputs }, outputs: FOLDIN_GRAPH.outputs };

async function runGraph(
  session: ort.InferenceSession,
  history: number[],
  k: number,
  exclude: number[],
  user: number,
): Promise<{ items: number[]; scores: number[] }> {
  const t = (v: number[]): ort.Tensor => new ort.Tensor("int64", BigInt64Array.from(v.map(BigInt)), [v.length]);
  const feeds: Record<string, ort.Tensor> = {
    [FOLDIN_GRAPH.inputs.history]: t(history),
    [FOLDIN_GRAPH.inputs.k]: t([k]),
    [FOLDIN_GRAPH.inputs.exclude]: t(exclude),
  };
  if (session.inputNames.includes(WITH_USER.inputs.user)) feeds[WITH_USER.inputs.user] = t([user]);
  const out = await session.run(feeds);
  return {
    items: Array.from(out[FOLDIN_GRAPH.outputs.items].data as BigInt64Array, Number),
    scores: Array.from(out[FOLDIN_GRAPH.outputs.scores].data as Float32Array),
  };
}

describe("fold-in graphs in onnxruntime-web", () => {
  for (const f of randomFoldIns(new Rng(7))) {
    const name =
      f.kind === "mix" && takesUser(f)
        ? `mix with a known-user part${f.recency ? ", weighted by recency" : ""}`
        : f.kind === "propagated" && f.compact
          ? "propagated, compact (float16 and int8)"
          : f.kind === "mix" && f.recency
            ? "mix weighted by recency"
            : f.kind;
    it(`${name}: top k and scores match the TypeScript fold-in on random histories, with exclusion`, async () => {
      const session = await ort.InferenceSession.create(buildFoldInGraph("test", f, WITH_USER));
      expect(session.inputNames).toEqual(Object.values((takesUser(f) ? WITH_USER : FOLDIN_GRAPH).inputs));
      const rng = new Rng(11);
      const scores = new Float32Array(f.items);
      for (let trial = 0; trial < 25; trial++) {
        const history = randomHistory(rng, f.items, 12);
        const exclude = [...history, ...randomHistory(rng, f.items, 4)];
        const k = 1 + rng.int(10);
        // known users by index and users the model never saw (-1), alternately
        const user = trial % 2 === 0 ? rng.int(TRAINED_USERS) : -1;
        foldInScores(f, history, scores, user);
        for (const i of exclude) scores[i] = Number.NEGATIVE_INFINITY;
        const best = new Int32Array(k);
        const n = topK(scores, 0, f.items, k, best);
        const got = await runGraph(session, history, k, exclude, user);
        expect(got.items).toHaveLength(n);
        for (const i of got.items) expect(exclude).not.toContain(i);
        // same scores (the solver's float32 iterations stay within 1e-3 of the float64 solve)
        for (let r = 0; r < n; r++) expect(got.scores[r]).toBeCloseTo(scores[best[r]], 3);
        // same items wherever the scores are not tied within that tolerance
        for (let r = 0; r < n; r++) if (Math.abs(scores[got.items[r]] - scores[best[r]]) > 1e-3) expect(got.items[r]).toBe(best[r]);
      }
    });
  }

  it("compact tables stay close to float32: within 2% of the largest score", () => {
    const f = randomFoldIns(new Rng(3))[0];
    if (f.kind !== "propagated") throw new Error("expected the propagated fold-in first");
    const c = compactFoldIn(f);
    expect(c.compact?.values).toHaveLength(f.items * f.dim);
    for (const v of c.contributions) expect(Math.f16round(v)).toBe(v);
    const rng = new Rng(4);
    const [exact, compact] = [new Float32Array(f.items), new Float32Array(f.items)];
    for (let trial = 0; trial < 20; trial++) {
      const history = randomHistory(rng, f.items, 12);
      foldInScores(f, history, exact);
      foldInScores(c, history, compact);
      const largest = Math.max(...Array.from(exact, Math.abs));
      for (let j = 0; j < f.items; j++) expect(Math.abs(compact[j] - exact[j])).toBeLessThan(0.02 * largest);
    }
  });

  it("scores a known user by its trained vector and anyone else (-1) by the fold-in", () => {
    const f = randomFoldIns(new Rng(2)).find((x) => x.kind === "known-user");
    if (f?.kind !== "known-user") throw new Error("no known-user fold-in");
    const history = [3, 8, 20];
    const [asUser, asNew, folded] = [new Float32Array(f.items), new Float32Array(f.items), new Float32Array(f.items)];
    foldInScores(f, history, asUser, 4);
    foldInScores(f, history, asNew, -1);
    foldInScores(f.foldIn, history, folded);
    expect(Array.from(asNew)).toEqual(Array.from(folded));
    for (let j = 0; j < f.items; j++) {
      const expected = Array.from({ length: f.dim }, (_, c) => f.users[4 * f.dim + c] * f.foldIn.candidates[j * f.dim + c]).reduce((a, b) => a + b, 0);
      expect(asUser[j]).toBeCloseTo(expected, 4);
    }
    expect(() => foldInScores(f, history, asUser, TRAINED_USERS)).toThrow(/outside the 9 trained users/);
    expect(() => buildFoldInGraph("no user input", f, FOLDIN_GRAPH)).toThrow(/needs a user input/);
  });

  it("recency weighs a new user's latest entries more, and leaves known users and matrix rows unweighted", () => {
    const f = randomFoldIns(new Rng(2)).find((x) => x.kind === "mix" && x.recency && takesUser(x));
    if (f?.kind !== "mix") throw new Error("no mix with recency");
    const plain = unordered(f);
    const score = (g: FoldIn, history: number[], user: number): number[] => {
      const out = new Float32Array(g.items);
      foldInScores(g, history, out, user);
      return Array.from(out);
    };
    // a known user's history is a set: the same scores with or without recency, in any order
    expect(score(f, [3, 8, 20], 4)).toEqual(score(plain, [3, 8, 20], 4));
    expect(score(f, [20, 8, 3], 4)).toEqual(score(plain, [3, 8, 20], 4));
    // a new user's history is a sequence: the order changes the scores, and not without recency
    expect(score(f, [3, 8, 20], -1)).not.toEqual(score(f, [20, 8, 3], -1));
    const forwards = score(plain, [3, 8, 20], -1);
    for (const [j, v] of score(plain, [20, 8, 3], -1).entries()) expect(forwards[j]).toBeCloseTo(v, 5);
    // a very short memory is the latest entry alone; a very long one, no weighting at all
    const latest = score({ ...f, recency: 1e-3 }, [3, 8, 20], -1);
    for (const [j, v] of score(f, [20], -1).entries()) expect(latest[j]).toBeCloseTo(v, 4);
    const everything = score({ ...f, recency: 1e9 }, [3, 8, 20], -1);
    for (const [j, v] of score(plain, [3, 8, 20], -1).entries()) expect(everything[j]).toBeCloseTo(v, 4);
    // a matrix of histories has no order: foldInScorer scores its rows unweighted
    const rows = csrFromTriples(2, f.items, [0, 0, 0, 1], [3, 8, 20, 5]);
    const [weighted, unweighted] = [new Float32Array(2 * f.items), new Float32Array(2 * f.items)];
    foldInScorer(f, rows).score(0, 2, weighted);
    foldInScorer(plain, rows).score(0, 2, unweighted);
    expect(Array.from(weighted)).toEqual(Array.from(unweighted));
    expect(recencyWeights(3, 2)).toEqual(Float32Array.from([Math.exp(-1), Math.exp(-0.5), 1]));
  });

  it("rejects an empty history and indices outside the catalogue in the reference", () => {
    const [f] = randomFoldIns(new Rng(1));
    expect(() => foldInScores(f, [], new Float32Array(f.items))).toThrow(/at least one/);
    expect(() => foldInScores(f, [f.items], new Float32Array(f.items))).toThrow(/outside/);
  });
});

describe("each model's fold-in is what the model computes", () => {
  const train = randomTrain(40, 30, 6, 3);
  const backends = cpuBackends();

  it("LightGCN: the layer mean of a new user propagated over the train graph, ego = weight x layer 1", async () => {
    const layers = 2;
    const ego = 0.7;
    const model = lightgcn.create({ ...lightgcn.defaults, dim: 5, layers, epochs: 2, batch: 64, threads: 1, foldin_ego: ego });
    await model.fit(train, ctx);
    const f = model.foldIn!();
    expect(f?.kind).toBe("propagated");
    if (f?.kind !== "propagated") return;
    // brute force in float64: E_l = A^l E_0 from the trained ego embeddings
    const emb = model.embeddings!();
    const adj = normalizedAdjacency(train);
    const nodes = adj.rows;
    const e0 = recoverEgo(model);
    const layersE: Float64Array[] = [Float64Array.from(e0)];
    for (let l = 1; l < layers; l++) {
      const prev = layersE[l - 1];
      const next = new Float64Array(nodes * 5);
      for (let r = 0; r < nodes; r++)
        for (let p = adj.indptr[r]; p < adj.indptr[r + 1]; p++) for (let c = 0; c < 5; c++) next[r * 5 + c] += adj.values[p] * prev[adj.indices[p] * 5 + c];
      layersE.push(next);
    }
    const degree = new Float64Array(30);
    for (const i of train.indices) degree[i]++;
    const history = [1, 4, 9, 20];
    const u = Array.from({ length: layers + 1 }, () => new Float64Array(5));
    for (let l = 0; l < layers; l++)
      for (const i of history) for (let c = 0; c < 5; c++) u[l + 1][c] += layersE[l][(40 + i) * 5 + c] / Math.sqrt(history.length * degree[i]);
    for (let c = 0; c < 5; c++) u[0][c] = ego * u[1][c];
    const user = Array.from({ length: 5 }, (_, c) => u.reduce((s, v) => s + v[c], 0) / (layers + 1));
    const scores = new Float32Array(30);
    foldInScores(f, history, scores);
    for (let j = 0; j < 30; j++) {
      const expected = user.reduce((s, v, c) => s + v * emb.items[j * 5 + c], 0);
      expect(scores[j]).toBeCloseTo(expected, 4);
    }
  });

  it("LightGCN with a fitted ego map: a train user whose ego is linear in its propagated row gets its trained vector back", async () => {
    const dim = 4;
    const backend = backends[0];
    const plan = propagationPlan({ backend, train, rng: new Rng(1), params: {} }, dim);
    const rng = new Rng(8);
    const init = new Float32Array((40 + 30) * dim);
    for (let k = 40 * dim; k < init.length; k++) init[k] = rng.normal();
    // user ego rows = a_1 W_true, with a_1 the users' rows of A_hat E_0 (users' E_0 are zero so far)
    const adj = normalizedAdjacency(train);
    const wTrue = Array.from({ length: dim * dim }, () => rng.normal());
    for (let u = 0; u < 40; u++) {
      const a1 = new Float64Array(dim);
      for (let p = adj.indptr[u]; p < adj.indptr[u + 1]; p++) for (let c = 0; c < dim; c++) a1[c] += adj.values[p] * init[adj.indices[p] * dim + c];
      for (let c = 0; c < dim; c++) init[u * dim + c] = a1.reduce((s, v, a) => s + v * wTrue[a * dim + c], 0);
    }
    const core = new LightGcnCore(backend, plan, 40, 30, dim, 1, 0, init);
    await core.snapshot();
    const f = core.foldIn(train, "fit");
    const final = await backend.download(core.finalEmbeddings());
    const scores = new Float32Array(30);
    for (const u of [0, 17, 39]) {
      foldInScores(f, rowOf(train, u), scores);
      for (let j = 0; j < 30; j++) {
        const trained = Array.from({ length: dim }, (_, c) => final[u * dim + c] * final[(40 + j) * dim + c]).reduce((a, b) => a + b, 0);
        expect(scores[j]).toBeCloseTo(trained, 2);
      }
    }
  });

  it("BPR-MF (no layers): the ego estimate alone", async () => {
    const model = mf.create({ ...mf.defaults, dim: 4, epochs: 1, batch: 64, threads: 1, foldin_ego: 1 });
    await model.fit(train, ctx);
    const f = model.foldIn!();
    expect(f?.kind).toBe("propagated");
  });

  it("iALS: the solve satisfies the user's normal equations", async () => {
    const model = ials.create({ ...ials.defaults, factors: 4, iterations: 3, threads: 1 });
    await model.fit(train, ctx);
    const f = model.foldIn!();
    if (f?.kind !== "least-squares") throw new Error(`expected least-squares, got ${f?.kind}`);
    const history = [2, 3, 17];
    const scores = new Float32Array(30);
    foldInScores(f, history, scores);
    // x recovered from the scores (Y x = s), then the normal equations A x = b checked
    const d = f.dim;
    const x = solveFromScores(f.factors, scores, d);
    for (let r = 0; r < d; r++) {
      let ax = 0;
      for (let c = 0; c < d; c++) {
        let a = f.gram[r * d + c];
        for (const i of history) a += f.alpha * f.factors[i * d + r] * f.factors[i * d + c];
        ax += a * x[c];
      }
      const b = history.reduce((s, i) => s + (1 + f.alpha) * f.factors[i * d + r], 0);
      expect(ax).toBeCloseTo(b, 3);
    }
  });

  it("EASE: folding in a train row gives the trained scores (B rounded to half precision)", async () => {
    const model = ease.create({ lambda: 50 });
    await model.fit(train, ctx);
    const f = model.foldIn!();
    if (!f) throw new Error("no fold-in");
    const trained = new Float32Array(40 * 30);
    model.score(0, 40, trained);
    const folded = new Float32Array(40 * 30);
    foldInScorer(f, train).score(0, 40, folded);
    // B is served in half precision: scores agree to its precision
    for (let k = 0; k < folded.length; k++) expect(folded[k]).toBeCloseTo(trained[k], 3);
  });
});

describe("held-out users (strong generalization)", () => {
  const rng = new Rng(2);
  const users = 60,
    items = 25;
  const rows: number[] = [],
    cols: number[] = [];
  for (let u = 0; u < users; u++)
    for (const i of new Set([...randomHistory(rng, items, 12), u % items])) {
      rows.push(u);
      cols.push(i);
    }
  const all = csrFromTriples(users, items, rows, cols);
  const split: Split = {
    dataset: "ml-100k",
    protocol: "recbole",
    seed: 1,
    userIds: Int32Array.from({ length: users }, (_, i) => i + 1),
    itemIds: Int32Array.from({ length: items }, (_, i) => i + 1),
    train: all,
    valid: csrFromTriples(users, items, [], []),
    test: csrFromTriples(users, items, [], []),
    counts: { users, items, interactions: 0, train: 0, valid: 0, test: 0 },
  };

  it("removes the held-out users from every training structure and splits their positives 80/20", () => {
    const { split: s, heldOut } = holdOutUsers(split, 0.1, 9);
    expect(heldOut.users.length).toBe(6);
    for (const u of heldOut.users) {
      expect(rowOf(s.train, u).length).toBe(0);
      const fold = new Set(rowOf(heldOut.foldIn, u));
      const target = rowOf(heldOut.target, u);
      expect(target.length).toBeGreaterThan(0);
      for (const i of target) expect(fold.has(i)).toBe(false);
      expect(fold.size + target.length).toBe(rowOf(all, u).length);
      expect(Math.abs(fold.size - 0.8 * rowOf(all, u).length)).toBeLessThanOrEqual(1);
    }
    const kept = Array.from({ length: users }, (_, u) => u).filter((u) => !heldOut.users.includes(u));
    for (const u of kept) expect(rowOf(s.train, u)).toEqual(rowOf(all, u));
    expect(holdOutUsers(split, 0.1, 9).heldOut.users).toEqual(heldOut.users); // seeded
    expect(holdOutUsers(split, 0.1, 10).heldOut.users).not.toEqual(heldOut.users);
  });
});

/** The trained ego embeddings, read back through the model's zero-layer identity: E_0 rows. */
function recoverEgo(model: { embeddings?: () => { users: Float32Array } }): Float32Array {
  const core = (model as unknown as { core: { e0: { view(): Float32Array } } }).core;
  return core.e0.view().slice();
}

/** x from the scores of every item (least squares over the item factors, normal equations). */
function solveFromScores(y: Float32Array, scores: Float32Array, d: number): number[] {
  const items = scores.length;
  const a = Array.from({ length: d }, () => new Array<number>(d + 1).fill(0));
  for (let i = 0; i < items; i++)
    for (let r = 0; r < d; r++) {
      for (let c = 0; c < d; c++) a[r][c] += y[i * d + r] * y[i * d + c];
      a[r][d] += y[i * d + r] * scores[i];
    }
  for (let c = 0; c < d; c++) {
    for (let r = c + 1; r < d; r++) {
      const m = a[r][c] / a[c][c];
      for (let k = c; k <= d; k++) a[r][k] -= m * a[c][k];
    }
  }
  const x = new Array<number>(d).fill(0);
  for (let r = d - 1; r >= 0; r--) x[r] = (a[r][d] - a[r].slice(r + 1, d).reduce((s, v, k) => s + v * x[r + 1 + k], 0)) / a[r][r];
  return x;
}
