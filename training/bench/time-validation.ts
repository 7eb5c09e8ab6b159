// Scratch analysis (served helper): on ML-100K before the replay's cut, cut again at the same
// percentile; train on the early part, replay the late ratings offline (histories so far), and
// compare fold-in variants of the blend. Nothing after the replay's cut is read.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUNDLE_FILES, type IdMaps, type Manifest } from "../src/contract/artifacts.ts";
import { datasetSpec } from "../src/data/datasets.ts";
import { ensureDataset } from "../src/data/fetch.ts";
import { type Dataset, type RatingTable, loadDataset } from "../src/data/parse.ts";
import { readTrainedState } from "../src/export/model-state.ts";
import type { FoldIn } from "../src/models/foldin.ts";
import { runPipeline } from "../src/pipeline/pipeline.ts";

const CUT = 80;
const SEED = 2020;
const LAMBDAS = (process.env.LAMBDAS ?? "100,250,500,1000").split(",").map(Number);
const TAUS = (process.env.TAUS ?? "0").split(",").map(Number); // 0: no recency weighting
const WEIGHTS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
const SHRINK = (process.env.SHRINK ?? "0,2,5,10,20,50").split(",").map(Number);

interface Event {
  user: number;
  movie: number;
  rating: number;
  timestamp: number;
}

function eventsOf(r: RatingTable): Event[] {
  const out: Event[] = [];
  for (let p = 0; p < r.length; p++) out.push({ user: r.user[p], movie: r.item[p], rating: r.rating[p], timestamp: r.timestamp[p] });
  return out.sort((a, b) => a.timestamp - b.timestamp || a.user - b.user || a.movie - b.movie);
}

function before(data: Dataset, events: Event[]): Dataset {
  const ratings: RatingTable = {
    length: events.length,
    user: Int32Array.from(events, (e) => e.user),
    item: Int32Array.from(events, (e) => e.movie),
    rating: Float32Array.from(events, (e) => e.rating),
    timestamp: Int32Array.from(events, (e) => e.timestamp),
  };
  return { ...data, name: `${data.name}-early`, ratings };
}

function standardize(s: Float64Array): Float64Array {
  let mean = 0;
  for (const v of s) mean += v;
  mean /= s.length;
  let sq = 0;
  for (const v of s) sq += (v - mean) ** 2;
  const sd = Math.sqrt(sq / s.length) || 1;
  return s.map((v) => (v - mean) / sd);
}

function state(dir: string, model: string): { fold: FoldIn; ids: number[]; own: number } {
  const manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8")) as Manifest;
  const ids = (JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps).items;
  const own = manifest.model_items ?? manifest.items;
  const s = readTrainedState(dir, { users: manifest.users, items: own, recs: manifest.recs ?? "history", foldin: manifest.foldin ?? null }, model);
  if (!s.foldIn) throw new Error(`${dir}: no fold-in`);
  return { fold: s.foldIn, ids, own };
}

const spec = datasetSpec("ml-100k");
const data = await loadDataset(spec, await ensureDataset(spec, { from: process.env.MOVIELENS_DIR, dataDir: "data", log: () => {} }));
const events = eventsOf(data.ratings);
const cutTime = events[Math.floor((events.length * CUT) / 100)].timestamp;
const pre = events.filter((e) => e.timestamp < cutTime);
const innerCut = pre[Math.floor((pre.length * CUT) / 100)].timestamp;
const early = pre.filter((e) => e.timestamp < innerCut);
const late = pre.filter((e) => e.timestamp >= innerCut);
console.log(`pre-cut ${pre.length}; inner cut: early ${early.length}, late ${late.length}`);

const root = mkdtempSync(join(tmpdir(), "served-timeval-"));
const easeFolds = new Map<number, Float32Array>();
let graph: Extract<FoldIn, { kind: "propagated" }> | null = null;
let ids: number[] = [];
let own = 0;
try {
  const art = join(root, "blend");
  await runPipeline({
    models: ["blend"],
    dataset: "ml-100k-early",
    data: before(data, early),
    protocol: "recbole",
    seed: SEED,
    artifacts: art,
    splitArtifacts: null,
    log: () => {},
  });
  const b = state(join(art, "blend"), "blend");
  if (b.fold.kind !== "mix") throw new Error("no mix");
  console.log(`blend: EASE weight ${b.fold.parts[0].weight} chosen on the protocol's valid set`);
  const g = b.fold.parts[1].foldIn;
  graph = g.kind === "known-user" ? g.foldIn : g.kind === "propagated" ? g : null;
  ids = b.ids;
  own = b.own;
  for (const lambda of LAMBDAS) {
    const a = join(root, `ease-${lambda}`);
    await runPipeline({
      models: [{ model: "ease", params: { lambda } }],
      dataset: "ml-100k-early",
      data: before(data, early),
      protocol: "recbole",
      seed: SEED,
      artifacts: a,
      splitArtifacts: null,
      log: () => {},
    });
    const e = state(join(a, "ease"), "ease");
    if (e.fold.kind !== "item-item" || e.own !== own) throw new Error("ease shape");
    easeFolds.set(lambda, e.fold.weights);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
if (!graph) throw new Error("no graph part");
const G = graph;
const n = own;
const d = G.dim;
const index = new Map(ids.slice(0, n).map((id, i) => [id, i]));

// variant name -> [hits, ndcg]
const tally = new Map<string, { hits: number; ndcg: number; byLen: number[][] }>();
const LEN_BUCKETS = [1, 2, 3, 5, 10, 20, 50, 100, 1e9];
const bucketOf = (len: number): number => LEN_BUCKETS.findIndex((b) => len <= b);
let replayed = 0;
function add(name: string, scores: ArrayLike<number>, seen: Set<number>, target: number, len: number): void {
  let t = tally.get(name);
  if (!t) {
    t = { hits: 0, ndcg: 0, byLen: LEN_BUCKETS.map(() => [0, 0]) };
    tally.set(name, t);
  }
  const b = bucketOf(len);
  t.byLen[b][1]++;
  if (target < 0) return;
  const st = scores[target];
  let rank = 0;
  for (let j = 0; j < n && rank < 10; j++) {
    if (j === target || seen.has(j)) continue;
    if (scores[j] > st || (scores[j] === st && j < target)) rank++;
  }
  if (rank < 10) {
    t.hits++;
    t.ndcg += 1 / Math.log2(rank + 2);
    t.byLen[b][0]++;
  }
}

const histories = new Map<number, Event[]>();
const append = (e: Event): void => {
  const h = histories.get(e.user);
  if (h) h.push(e);
  else histories.set(e.user, [e]);
};
for (const e of early) append(e);
const every = Number(process.env.EVERY ?? 1);
let k = 0;
for (const e of late) {
  const history = [...(histories.get(e.user) ?? [])];
  append(e);
  // positives in time order (last rating wins: a movie appears once per user in ML-100K)
  const pos = history.filter((h) => h.rating >= 3).flatMap((h) => index.get(h.movie) ?? []);
  if (pos.length === 0) continue;
  if (k++ % every !== 0) continue;
  replayed++;
  const seenIdx = new Set(history.flatMap((h) => index.get(h.movie) ?? []));
  const target = index.get(e.movie) ?? -1;
  const len = pos.length;
  for (const tau of TAUS) {
    // recency: the latest positive weighs 1, the one r places before it exp(-r / tau)
    const w = pos.map((_, p) => (tau > 0 ? Math.exp(-(pos.length - 1 - p) / tau) : 1));
    const gv = new Float64Array(d);
    const mv = new Float64Array(d);
    pos.forEach((i, p) => {
      for (let c = 0; c < d; c++) {
        gv[c] += w[p] * G.contributions[i * d + c];
        mv[c] += w[p] * G.candidates[i * d + c];
      }
    });
    const gs = new Float64Array(n);
    const ms = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let s = 0;
      let m = 0;
      for (let c = 0; c < d; c++) {
        s += gv[c] * G.candidates[j * d + c];
        m += mv[c] * G.candidates[j * d + c];
      }
      gs[j] = s;
      ms[j] = m;
    }
    const gz = standardize(gs);
    const mz = standardize(ms);
    add(`tau${tau} lightgcn-propagated`, gz, seenIdx, target, len);
    add(`tau${tau} lightgcn-mean-emb`, mz, seenIdx, target, len);
    for (const lambda of LAMBDAS) {
      const B = easeFolds.get(lambda) as Float32Array;
      const es = new Float64Array(n);
      pos.forEach((i, p) => {
        for (let j = 0; j < n; j++) es[j] += w[p] * B[i * n + j];
      });
      const ez = standardize(es);
      for (const wt of WEIGHTS) {
        for (const c of SHRINK) {
          // the LightGCN part's weight shrunk towards 0 for short histories: (1 - w) * len / (len + c)
          const lw = (1 - wt) * (c > 0 ? len / (len + c) : 1);
          const mix = new Float64Array(n);
          for (let j = 0; j < n; j++) mix[j] = wt * ez[j] + lw * gz[j];
          add(`tau${tau} L${lambda} w${wt} c${c}`, mix, seenIdx, target, len);
        }
        if (wt > 0 && wt < 1) {
          const mix = new Float64Array(n);
          for (let j = 0; j < n; j++) mix[j] = wt * ez[j] + (1 - wt) * mz[j];
          add(`tau${tau} L${lambda} w${wt} mean-emb`, mix, seenIdx, target, len);
        }
      }
    }
  }
}
console.log(`replayed ${replayed} late ratings with a known positive`);
const rows = [...tally].map(([name, t]) => ({ name, hr: t.hits / replayed, ndcg: t.ndcg / replayed, byLen: t.byLen }));
rows.sort((a, b) => b.hr - a.hr);
for (const r of rows)
  console.log(
    `${r.name.padEnd(34)} HR@10 ${r.hr.toFixed(4)} NDCG@10 ${r.ndcg.toFixed(4)}  by len<=${LEN_BUCKETS.join("/")}: ${r.byLen.map(([h, m]) => (m ? (h / m).toFixed(3) : "-")).join(" ")}`,
  );
console.log(`events by length bucket: ${rows[0].byLen.map(([, m]) => m).join(" ")}`);
