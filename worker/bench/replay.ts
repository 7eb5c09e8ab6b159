// npm run bench:replay: real traffic in time order, as a new user of the project would send it.
// ML-100K (whose timestamps are complete) is cut at the 80th percentile of its ratings' times;
// the served model is trained on the ratings before the cut, published, and every later rating
// (or a seeded sample of them) becomes one POST /recs to the running Worker with that user's
// raw history, unknown movies and low ratings included, no client-side filtering:
//   frozen: the history as of the cut (what a snapshot knows);
//   live:   the history so far (every earlier rating, after the cut too).
// A hit is the later rating's movie in the top 10. Beside the served model, a plain EASE fold-in
// (EASE's own trained weights over the same histories, in Node) on the same events: the
// baseline to beat. A benchmark: it asserts nothing. Ends with one JSON line.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { BUNDLE_FILES, type IdMaps, type Manifest, type PopularFile } from "../../training/src/contract/artifacts.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { datasetSpec } from "../../training/src/data/datasets.ts";
import { ensureDataset } from "../../training/src/data/fetch.ts";
import { type Dataset, type RatingTable, loadDataset } from "../../training/src/data/parse.ts";
import { readTrainedState } from "../../training/src/export/model-state.ts";
import { foldInScores, standardize } from "../../training/src/models/foldin.ts";
import { runPipeline } from "../../training/src/pipeline/pipeline.ts";
import { publishBundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { localTarget } from "../../training/src/publish/targets.ts";
import { ensureDevToken, migrateLocalD1 } from "../../training/src/serve/local-setup.ts";
import { freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { Rng } from "../../training/src/util/rng.ts";

const program = new Command("bench:replay")
  .description(
    "ML-100K in time order: train before the 80th-percentile cut, publish, then POST every later rating's raw history to the running Worker (frozen: as of the cut; live: so far); HR@10 and NDCG@10 beside a plain EASE fold-in on the same events.",
  )
  .option("--model <name>", "the served model", "blend")
  .option("--events <n>", "later ratings replayed, a seeded uniform sample in time order (0: all of them)", integer, 5000)
  .option("--cut <percent>", "the cut, as a percentile of the ratings' times", integer, 80)
  .option("--seed <n>", "seed of the sample and of training", integer, 2020)
  .option(
    "--blend-weight <how>",
    "the blend's EASE weight: chosen on the protocol's random valid set as npm run train does (valid), or on a time-ordered validation before the cut (time)",
    "valid",
  )
  .option("--from <dir>", "copy ML-100K from this folder (one sub-folder per dataset)", process.env.MOVIELENS_DIR)
  .option("--data-dir <dir>", "where datasets are kept", "data");
program.parse();
const o = program.opts<{ model: string; events: number; cut: number; seed: number; blendWeight: string; from?: string; dataDir: string }>();
if (o.blendWeight !== "time" && o.blendWeight !== "valid") throw new Error(`--blend-weight must be time or valid, got ${o.blendWeight}`);

const K = 10;

interface Event {
  user: number;
  movie: number;
  rating: number;
  timestamp: number;
}

function eventsOf(r: RatingTable): Event[] {
  const out: Event[] = [];
  for (let p = 0; p < r.length; p++) out.push({ user: r.user[p], movie: r.item[p], rating: r.rating[p], timestamp: r.timestamp[p] });
  // time order; ties by user, then movie, so the order is reproducible
  return out.sort((a, b) => a.timestamp - b.timestamp || a.user - b.user || a.movie - b.movie);
}

/** The dataset restricted to the ratings before the cut (the movies' titles all kept). */
function before(data: Dataset, events: Event[]): Dataset {
  const n = events.length;
  const ratings: RatingTable = {
    length: n,
    user: Int32Array.from(events, (e) => e.user),
    item: Int32Array.from(events, (e) => e.movie),
    rating: Float32Array.from(events, (e) => e.rating),
    timestamp: Int32Array.from(events, (e) => e.timestamp),
  };
  return { ...data, name: `${data.name}-before-cut`, ratings };
}

/** A hit's NDCG@10 with one relevant movie: 1 / log2(rank + 2). */
const gain = (rank: number): number => (rank < 0 ? 0 : 1 / Math.log2(rank + 2));

class Tally {
  requests = 0;
  hits = 0;
  ndcg = 0;
  refused = 0;
  coldStart = 0;
  ignored = 0;
  add(ranked: number[], movie: number): void {
    this.requests++;
    const rank = ranked.indexOf(movie);
    if (rank >= 0) this.hits++;
    this.ndcg += gain(rank);
  }
  json(): Record<string, number> {
    const r = (x: number): number => Math.round(x * 10_000) / 10_000;
    return {
      requests: this.requests,
      "hr@10": r(this.hits / Math.max(1, this.requests)),
      "ndcg@10": r(this.ndcg / Math.max(1, this.requests)),
      refused: this.refused,
      cold_start: this.coldStart,
      ignored_entries: this.ignored,
    };
  }
}

/**
 * EASE's own fold-in over a raw history, as a client that filters for it would get: the
 * history's positives EASE knows, times B; every history movie excluded; a history with no such
 * positive gets the same cold-start list the bundle serves (the served model's own answer).
 */
function easeRanker(artifacts: string): (history: Event[]) => { ranked: number[]; cold: boolean } {
  const dir = join(artifacts, "ease");
  const manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8")) as Manifest;
  const ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
  const popular = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.popular), "utf8")) as PopularFile;
  const own = manifest.model_items ?? manifest.items;
  const state = readTrainedState(dir, { users: manifest.users, items: own, recs: manifest.recs ?? "history", foldin: manifest.foldin ?? null }, "ease");
  if (!state.foldIn) throw new Error(`${dir} has no EASE fold-in`);
  const fold = state.foldIn;
  const index = new Map(ids.items.slice(0, own).map((id, i) => [id, i]));
  const scores = new Float32Array(own);
  return (history) => {
    const seen = new Set(history.map((e) => e.movie));
    const positives = [...new Set(history.filter((e) => e.rating >= 3).flatMap((e) => index.get(e.movie) ?? []))];
    if (positives.length === 0)
      return {
        ranked: popular.movies
          .map((m) => m.movieId)
          .filter((id) => !seen.has(id))
          .slice(0, K),
        cold: true,
      };
    foldInScores(fold, positives, scores);
    const order = Array.from({ length: own }, (_, i) => i)
      .filter((i) => !seen.has(ids.items[i]))
      .sort((a, b) => scores[b] - scores[a] || a - b)
      .slice(0, K);
    return { ranked: order.map((i) => ids.items[i]), cold: false };
  };
}

/** The EASE weights the time-ordered validation compares (the blend's own grid, and beyond it). */
const TIME_WEIGHTS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** The parts of the blend trained in `dir`, each scoring a history standardized, as the blend mixes them. */
function blendParts(dir: string): { own: number; ids: number[]; parts: (history: number[]) => Float32Array[] } {
  const manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8")) as Manifest;
  const ids = (JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps).items;
  const own = manifest.model_items ?? manifest.items;
  const mix = readTrainedState(
    dir,
    { users: manifest.users, items: own, recs: manifest.recs ?? "user+history", foldin: manifest.foldin ?? null },
    "blend",
  ).foldIn;
  if (mix?.kind !== "mix") throw new Error(`${dir} holds no blend`);
  return {
    own,
    ids,
    parts: (history) =>
      mix.parts.map((p) => {
        const s = new Float32Array(own);
        foldInScores(p.foldIn, history, s, -1);
        standardize(s, own);
        return s;
      }),
  };
}

/**
 * The blend's EASE weight chosen as the replay measures, but before the cut: the blend trained
 * on the ratings before the period's own 80th-percentile time, then that period's later ratings
 * replayed (histories so far, folded in as POST /recs folds them), best HR@10 wins. Nothing after
 * the cut is read.
 */
async function timeOrderedWeight(data: Dataset, pre: Event[]): Promise<{ weight: number; hr: Record<string, number> }> {
  const innerCut = pre[Math.floor((pre.length * o.cut) / 100)].timestamp;
  const early = pre.filter((e) => e.timestamp < innerCut);
  const late = pre.filter((e) => e.timestamp >= innerCut);
  const artifacts = mkdtempSync(join(tmpdir(), "edgerec-replay-weight-"));
  try {
    await runPipeline({
      models: [{ model: "blend", params: { ease_weight: 0.3 } }],
      dataset: "ml-100k-before-inner-cut",
      data: before(data, early),
      protocol: "recbole",
      seed: o.seed,
      artifacts,
      splitArtifacts: null,
      log: () => {},
    });
    const { own, ids, parts } = blendParts(join(artifacts, "blend"));
    const index = new Map(ids.slice(0, own).map((id, i) => [id, i]));
    // every later rating of the period (about 16,000 at the default cut): a sample of 2,000 left
    // neighbouring weights within a few hits of each other
    let replayed = 0;
    const histories = new Map<number, Event[]>();
    const append = (e: Event): void => {
      const h = histories.get(e.user);
      if (h) h.push(e);
      else histories.set(e.user, [e]);
    };
    for (const e of early) append(e);
    const hits = new Map<number, number>(TIME_WEIGHTS.map((w) => [w, 0]));
    for (const e of late) {
      const history = histories.get(e.user) ?? [];
      const positives = [...new Set(history.filter((h) => h.rating >= 3).flatMap((h) => index.get(h.movie) ?? []))];
      if (positives.length > 0) {
        replayed++;
        const seen = new Set(history.map((h) => h.movie));
        const [a, b] = parts(positives);
        for (const w of TIME_WEIGHTS) {
          const top = Array.from({ length: own }, (_, i) => i)
            .filter((i) => !seen.has(ids[i]))
            .map((i) => [w * a[i] + (1 - w) * b[i], i] as const)
            .sort((x, y) => y[0] - x[0] || x[1] - y[1])
            .slice(0, K);
          if (top.some(([, i]) => ids[i] === e.movie)) hits.set(w, (hits.get(w) ?? 0) + 1);
        }
      }
      append(e);
    }
    const best = TIME_WEIGHTS.reduce((b, w) => ((hits.get(w) ?? 0) > (hits.get(b) ?? 0) ? w : b), TIME_WEIGHTS[0]);
    return { weight: best, hr: Object.fromEntries(TIME_WEIGHTS.map((w) => [String(w), Math.round(((hits.get(w) ?? 0) / replayed) * 10_000) / 10_000])) };
  } finally {
    rmSync(artifacts, { recursive: true, force: true });
  }
}

await runCli(async () => {
  const started = performance.now();
  const spec = datasetSpec("ml-100k");
  const data = await loadDataset(spec, await ensureDataset(spec, { from: o.from, dataDir: o.dataDir, log: console.log }));
  const events = eventsOf(data.ratings);
  const cutAt = Math.floor((events.length * o.cut) / 100);
  const cutTime = events[cutAt].timestamp;
  const pre = events.filter((e) => e.timestamp < cutTime);
  const post = events.filter((e) => e.timestamp >= cutTime);
  const preUsers = new Set(pre.map((e) => e.user));
  console.log(
    `ML-100K cut at ${new Date(cutTime * 1000).toISOString().slice(0, 10)} (the ${o.cut}th percentile of the ratings' times): ${pre.length} ratings before, ${post.length} after, ${post.filter((e) => !preUsers.has(e.user)).length} of them by users with nothing before`,
  );

  const artifacts = mkdtempSync(join(tmpdir(), "edgerec-replay-"));
  const persist = mkdtempSync(join(tmpdir(), "edgerec-replay-state-"));
  try {
    const t = performance.now();
    let weight: Awaited<ReturnType<typeof timeOrderedWeight>> | null = null;
    if (o.model === "blend" && o.blendWeight === "time") {
      weight = await timeOrderedWeight(data, pre);
      console.log(`blend: EASE weight ${weight.weight}, chosen on a time-ordered validation before the cut (HR@10 by weight: ${JSON.stringify(weight.hr)})`);
    }
    const served = weight ? { model: o.model, params: { ease_weight: weight.weight } } : o.model;
    const trained = await runPipeline({
      models: [served, ...(o.model === "ease" ? [] : ["ease"])],
      dataset: "ml-100k-before-cut",
      data: before(data, pre),
      protocol: "recbole",
      seed: o.seed,
      artifacts,
      log: (line) => console.log(line),
    });
    const trainSeconds = (performance.now() - t) / 1000;
    const manifest = trained.manifests.get(o.model);
    if (!manifest) throw new Error(`${o.model} wrote no serving bundle: choose a model that can be served (blend, ease, lightgcn, ...)`);
    console.log(`served catalogue ${manifest.items} movies, the model's own ${manifest.model_items ?? manifest.items} (the protocol's)`);

    await migrateLocalD1("DB", persist);
    const target = await localTarget("MODELS", persist);
    try {
      await publishBundle(readBundle(join(artifacts, o.model)), target, { force: true });
    } finally {
      await target.close();
    }
    const token = ensureDevToken();
    const server = await startWranglerDev(await freePort(), { quiet: true, persistTo: persist, localTraces: false });

    // the sample: uniform over the later ratings, replayed in time order
    const rng = new Rng(o.seed);
    const chosen = new Set<number>();
    if (o.events === 0 || o.events >= post.length) for (let n = 0; n < post.length; n++) chosen.add(n);
    else while (chosen.size < o.events) chosen.add(rng.int(post.length));

    const arms = { frozen: new Tally(), live: new Tally() };
    const ease = { frozen: new Tally(), live: new Tally() };
    const rankEase = easeRanker(artifacts);
    const histories = new Map<number, Event[]>();
    const append = (e: Event): void => {
      const h = histories.get(e.user);
      if (h) h.push(e);
      else histories.set(e.user, [e]);
    };
    for (const e of pre) append(e);
    const frozen = new Map([...histories].map(([u, h]) => [u, [...h]]));
    const refusals = new Map<string, number>();
    const t0 = performance.now();
    try {
      for (const [n, e] of post.entries()) {
        if (chosen.has(n)) {
          for (const arm of ["frozen", "live"] as const) {
            const history = (arm === "frozen" ? frozen.get(e.user) : histories.get(e.user)) ?? [];
            const res = await fetch(`${server.url}/recs`, {
              method: "POST",
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              body: JSON.stringify({ history: history.map((h) => ({ movieId: h.movie, rating: h.rating, timestamp: h.timestamp })), k: K }),
            });
            const body = (await res.json()) as { source?: string; ignored?: number; recommendations?: { movieId: number }[]; error?: string; message?: string };
            const tally = arms[arm];
            if (res.status !== 200 || !body.recommendations) {
              tally.refused++;
              tally.add([], e.movie);
              const why = `${res.status} ${body.error ?? ""}`;
              refusals.set(why, (refusals.get(why) ?? 0) + 1);
            } else {
              if (body.source === "popular") tally.coldStart++;
              tally.ignored += body.ignored ?? 0;
              tally.add(
                body.recommendations.map((r) => r.movieId),
                e.movie,
              );
            }
            const baseline = rankEase(history);
            if (baseline.cold) ease[arm].coldStart++;
            ease[arm].add(baseline.ranked, e.movie);
          }
        }
        append(e);
      }
    } finally {
      await server.stop();
    }
    const replaySeconds = (performance.now() - t0) / 1000;
    for (const [why, n] of refusals) console.log(`refused: ${n} x ${why}`);
    for (const [name, tally] of [
      [`${o.model} frozen`, arms.frozen],
      [`${o.model} live`, arms.live],
      ["ease frozen", ease.frozen],
      ["ease live", ease.live],
    ] as const) {
      const j = tally.json();
      console.log(`${name.padEnd(14)} HR@10 ${j["hr@10"].toFixed(4)}  NDCG@10 ${j["ndcg@10"].toFixed(4)}  refused ${j.refused}  cold-start ${j.cold_start}`);
    }
    console.log(
      JSON.stringify({
        bench: "replay",
        dataset: "ml-100k",
        cut: { percentile: o.cut, date: new Date(cutTime * 1000).toISOString().slice(0, 10), before: pre.length, after: post.length },
        events: chosen.size,
        sample: o.events === 0 || o.events >= post.length ? "all" : `uniform, seed ${o.seed}`,
        model: o.model,
        ...(o.model === "blend"
          ? { ease_weight: manifest.params.ease_weight, ease_weight_chosen_on: weight ? "time-ordered validation before the cut" : "the protocol's valid set" }
          : {}),
        served_items: manifest.items,
        protocol_items: manifest.model_items ?? manifest.items,
        [o.model]: { frozen: arms.frozen.json(), live: arms.live.json() },
        ease_foldin: { frozen: ease.frozen.json(), live: ease.live.json() },
        train_seconds: Math.round(trainSeconds * 10) / 10,
        replay_seconds: Math.round(replaySeconds * 10) / 10,
        seconds: Math.round((performance.now() - started) / 100) / 10,
      }),
    );
  } finally {
    rmSync(artifacts, { recursive: true, force: true });
    rmSync(persist, { recursive: true, force: true });
  }
});
