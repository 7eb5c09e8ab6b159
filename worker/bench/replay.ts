// npm run bench:replay: real traffic in time order through running Workers, three arms on the
// same stream. The dataset (ML-100K by default: its timestamps are complete) is cut at the 80th
// percentile of its ratings' times; the served model is trained on the ratings before the cut and
// published to three local states, one `wrangler dev` each (their own D1 and R2: no arm sees
// another's ratings). Then, in time order, before each sampled later rating every arm is asked
// for that user's list (GET /users/:id/recs, k = 10), a hit when the rated movie is in it, and
// the list's impressions are posted (POST /events); the rating itself is posted
// (POST /users/:id/ratings) to the arms that take live ratings:
//   frozen:  the snapshot alone (no ratings posted: no live exclusion, no fold-in);
//   live:    every later rating posted: live exclusion and fold-in as the Worker does them;
//   retrain: live, plus at every simulated week end the retraining run of `npm run retrain` on
//            that arm's D1 and R2, through its gate, the published version served from then on.
// Beside them, EASE's own fold-in in Node on the same histories (the baseline to beat). Writes
// artifacts/replay/replay.json and ends with one JSON line. A benchmark: it asserts nothing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { datasetSpec } from "../../training/src/data/datasets.ts";
import { ensureDataset } from "../../training/src/data/fetch.ts";
import { loadDataset } from "../../training/src/data/parse.ts";
import { datasetOf, eventsOf } from "../../training/src/data/time-order.ts";
import { runPipeline } from "../../training/src/pipeline/pipeline.ts";
import { publishBundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { localTarget } from "../../training/src/publish/targets.ts";
import { localStore } from "../../training/src/retrain/store.ts";
import { ensureDevToken, migrateLocalD1 } from "../../training/src/serve/local-setup.ts";
import { type DevServer, freePort, startWranglerDev } from "../../training/src/serve/wrangler-dev.ts";
import { httpArm } from "./replay/arm-client.ts";
import { easeBaseline, easeRanker, timeOrderedWeight } from "./replay/baselines.ts";
import { ARM_NAMES, type Arm, type ArmName, drive } from "./replay/drive.ts";
import { buildReport, writeReport } from "./replay/report.ts";
import { WEEK_SECONDS, cutAt, sampleIndices, weekEnds, weeksSpanned, withKnownTimes } from "./replay/stream.ts";
import { type WeekRecord, retrainAtWeekEnd } from "./replay/weekly-retrain.ts";

const program = new Command("bench:replay")
  .description(
    "A dataset in time order (ML-100K by default): train before the cut, publish, then replay the later ratings through three running Workers (frozen: the snapshot; live: ratings posted, live exclusion and fold-in; retrain: live plus npm run retrain's run every simulated week, through its gate). HR@10 and NDCG@10 per arm beside EASE's fold-in; writes artifacts/replay/replay.json.",
  )
  .option("--dataset <name>", "ml-100k, or ml-1m (only its ratings with known times: see docs/loop.md)", "ml-100k")
  .option("--model <name>", "the served model (the retrain arm retrains the same one)", "blend")
  .option(
    "--events <n>",
    "later ratings that get a list, a seeded uniform sample in time order (0: all of them); every later rating is posted either way",
    integer,
    5000,
  )
  .option("--cut <percent>", "the cut, as a percentile of the ratings' times", integer, 80)
  .option("--seed <n>", "seed of the sample and of training", integer, 2020)
  .option("--arms <list>", "the arms to run, comma-separated", ARM_NAMES.join(","))
  .option(
    "--weeks <n>",
    "replay only the first n simulated weeks after the cut (0: up to the last rating; ML-1M's known times run 115 weeks past its cut)",
    integer,
    0,
  )
  .option(
    "--blend-weight <how>",
    "the blend's EASE weight: chosen on the protocol's random valid set as npm run train does (valid), or on a time-ordered validation before the cut (time)",
    "valid",
  )
  .option("--out <file>", "where the JSON goes", "artifacts/replay/replay.json")
  .option("--from <dir>", "copy the dataset from this folder (one sub-folder per dataset)", process.env.MOVIELENS_DIR)
  .option("--data-dir <dir>", "where datasets are kept", "data");
program.parse();
const o = program.opts<{
  dataset: string;
  model: string;
  events: number;
  cut: number;
  seed: number;
  arms: string;
  weeks: number;
  blendWeight: string;
  out: string;
  from?: string;
  dataDir: string;
}>();
if (o.blendWeight !== "time" && o.blendWeight !== "valid") throw new Error(`--blend-weight must be time or valid, got ${o.blendWeight}`);
if (o.dataset !== "ml-100k" && o.dataset !== "ml-1m")
  throw new Error(`--dataset must be ml-100k or ml-1m (the replay needs real timestamps), got ${o.dataset}`);
const armNames = o.arms.split(",").map((a) => a.trim()) as ArmName[];
for (const a of armNames) if (!ARM_NAMES.includes(a)) throw new Error(`--arms: unknown arm "${a}": choose from ${ARM_NAMES.join(", ")}`);

const K = 10;
/** The retrain arm's Worker looks for a new pointer this often, so a published version serves the next list. */
const RETRAIN_REFRESH_SECONDS = "1";

await runCli(async () => {
  const started = performance.now();
  const wallStart = Math.floor(Date.now() / 1000);
  const spec = datasetSpec(o.dataset);
  const data = await loadDataset(spec, await ensureDataset(spec, { from: o.from, dataDir: o.dataDir, log: console.log }));
  const all = eventsOf(data.ratings);
  const { kept, dropped } = withKnownTimes(all);
  const restriction =
    dropped > 0 ? { rule: "ratings with timestamp > 0 only (0 = unknown time in this copy); both sides of the cut", kept: kept.length, dropped } : null;
  if (restriction) console.log(`${o.dataset}: ${dropped} of ${all.length} ratings have no known time and are left out; ${kept.length} replayed in time order`);
  const cut = cutAt(kept, o.cut);
  if (o.weeks > 0) {
    const end = cut.time + o.weeks * WEEK_SECONDS;
    const all = cut.after.length;
    cut.after = cut.after.filter((e) => e.timestamp < end);
    console.log(`--weeks ${o.weeks}: replaying the ${cut.after.length} of ${all} later ratings before ${new Date(end * 1000).toISOString().slice(0, 10)}`);
  }
  const preUsers = new Set(cut.before.map((e) => e.user));
  const newUsersAfter = new Set(cut.after.filter((e) => !preUsers.has(e.user)).map((e) => e.user)).size;
  const cutDate = new Date(cut.time * 1000).toISOString().slice(0, 10);
  console.log(
    `${o.dataset} cut at ${cutDate} (the ${o.cut}th percentile of the ratings' times): ${cut.before.length} ratings before, ${cut.after.length} after, ${cut.after.filter((e) => !preUsers.has(e.user)).length} of them by users with nothing before`,
  );
  const last = cut.after[cut.after.length - 1].timestamp;
  const ends = armNames.includes("retrain") ? weekEnds(cut.time, last) : [];

  const artifacts = mkdtempSync(join(tmpdir(), "edgerec-replay-"));
  const states = new Map(armNames.map((a) => [a, mkdtempSync(join(tmpdir(), `edgerec-replay-${a}-`))]));
  const servers: DevServer[] = [];
  try {
    const t = performance.now();
    let weight: Awaited<ReturnType<typeof timeOrderedWeight>> | null = null;
    if (o.model === "blend" && o.blendWeight === "time") {
      weight = await timeOrderedWeight(data, cut.before, { cut: o.cut, seed: o.seed, k: K });
      console.log(`blend: EASE weight ${weight.weight}, chosen on a time-ordered validation before the cut (HR@10 by weight: ${JSON.stringify(weight.hr)})`);
    }
    const served = weight ? { model: o.model, params: { ease_weight: weight.weight } } : o.model;
    const trained = await runPipeline({
      models: [served, ...(o.model === "ease" ? [] : ["ease"])],
      dataset: `${o.dataset}-before-cut`,
      data: datasetOf(data, cut.before, "before-cut"),
      protocol: "recbole",
      seed: o.seed,
      artifacts,
      log: (line) => console.log(line),
    });
    const trainSeconds = (performance.now() - t) / 1000;
    const manifest = trained.manifests.get(o.model);
    if (!manifest) throw new Error(`${o.model} wrote no serving bundle: choose a model that can be served (blend, ease, lightgcn, ...)`);
    console.log(`served catalogue ${manifest.items} movies, the model's own ${manifest.model_items ?? manifest.items} (the protocol's)`);

    // one state per arm, each with the same published version; one wrangler dev each
    const token = ensureDevToken();
    const arms: Arm[] = [];
    for (const name of armNames) {
      const persist = states.get(name) as string;
      await migrateLocalD1("DB", persist);
      const target = await localTarget("MODELS", persist);
      try {
        await publishBundle(readBundle(join(artifacts, o.model)), target, { force: true });
      } finally {
        await target.close();
      }
      const server = await startWranglerDev(await freePort(), {
        quiet: true,
        persistTo: persist,
        localTraces: false,
        ...(name === "retrain" ? { vars: { MODEL_REFRESH_SECONDS: RETRAIN_REFRESH_SECONDS } } : {}),
      });
      servers.push(server);
      arms.push({ name, client: httpArm(server.url, token), takesRatings: name !== "frozen" });
    }

    const chosen = sampleIndices(cut.after.length, o.events, o.seed);
    const retrainArm = arms.find((a) => a.name === "retrain");
    const records: WeekRecord[] = [];
    const t0 = performance.now();
    // the stream's last rating lands a minute before the replay began (see DriveOptions.shift)
    const shift = wallStart - 60 - cut.after[cut.after.length - 1].timestamp;
    const result = await drive(arms, {
      shift,
      k: K,
      after: cut.after,
      chosen,
      weekEnds: ends,
      log: (line) => console.log(line),
      onWeekEnd: retrainArm
        ? async (end) => {
            const record = await retrainAtWeekEnd(end, {
              store: await localStore(states.get("retrain"), () => {}),
              artifacts,
              client: retrainArm.client,
              log: (line) => console.log(`  ${line}`),
            });
            records.push(record);
            console.log(
              `week ${record.week} (${record.at.slice(0, 10)}, ${record.live_ratings} live ratings): ${record.decision} ${record.candidate} in ${record.seconds} s (${record.why})`,
            );
          }
        : undefined,
    });
    const replaySeconds = (performance.now() - t0) / 1000;
    const online: Partial<Record<ArmName, unknown[]>> = {};
    // from the (shifted) first later rating: lists are served_at wall time, events at stream time
    // (at most a year back: GET /admin/metrics answers a year of days at most; ML-1M's stream runs two)
    const metricsFrom = Math.max(cut.after[0].timestamp + shift, wallStart - 365 * 86400);
    for (const a of arms) online[a.name] = await a.client.metrics(metricsFrom);

    // the EASE bundle trained beside the served model on the same split (or the served one)
    const baseline = easeBaseline(easeRanker(join(artifacts, "ease"), K), cut.before, cut.after, chosen);
    const retrainedModel = records.length ? `${o.model}, retrained on the arm's live ratings at each week end the gate passed` : o.model;
    const report = buildReport({
      dataset: o.dataset,
      restriction,
      cut: { percentile: o.cut, date: cutDate, before: cut.before.length, after: cut.after.length, newUsersAfter, weeksReplayed: o.weeks || null },
      sample: o.events === 0 || o.events >= cut.after.length ? "all" : `${chosen.size} of ${cut.after.length} later ratings, uniform, seed ${o.seed}`,
      model: o.model,
      serves: { frozen: `${o.model} (snapshot only)`, live: `${o.model} (snapshot, live exclusion and fold-in)`, retrain: retrainedModel },
      drive: result,
      weeks: weeksSpanned(cut.time, last),
      weekEnds: records,
      online,
      easeFoldIn: baseline,
      extra: {
        ...(o.model === "blend"
          ? { ease_weight: manifest.params.ease_weight, ease_weight_chosen_on: weight ? "time-ordered validation before the cut" : "the protocol's valid set" }
          : {}),
        served_items: manifest.items,
        protocol_items: manifest.model_items ?? manifest.items,
      },
      seconds: {
        train_seconds: Math.round(trainSeconds * 10) / 10,
        replay_seconds: Math.round(replaySeconds * 10) / 10,
        retrain_seconds: Math.round(records.reduce((s, r) => s + r.seconds, 0) * 10) / 10,
        seconds: Math.round((performance.now() - started) / 100) / 10,
      },
    });
    writeReport(o.out, report);
    for (const name of armNames) {
      const j = result.tallies.get(name)?.json();
      if (j)
        console.log(`${name.padEnd(8)} HR@10 ${j["hr@10"].toFixed(4)}  NDCG@10 ${j["ndcg@10"].toFixed(4)}  cold-start ${j.cold_start}  fold-in ${j.fold_in}`);
    }
    const weeksSeen = Math.max(...armNames.map((n) => result.weekly.get(n)?.length ?? 0));
    for (let w = 0; w < weeksSeen; w++)
      console.log(
        `week ${w + 1}: ${armNames.map((n) => `${n} HR@10 ${result.weekly.get(n)?.[w]?.json()["hr@10"].toFixed(4) ?? "-"}`).join("  ")}  (${result.weekly.get(armNames[0])?.[w]?.requests ?? 0} lists)`,
      );
    for (const [name, tally] of Object.entries(baseline)) {
      const j = tally.json();
      console.log(`ease ${name.padEnd(7)} HR@10 ${j["hr@10"].toFixed(4)}  NDCG@10 ${j["ndcg@10"].toFixed(4)}  (fold-in in Node)`);
    }
    console.log(`wrote ${o.out}`);
    console.log(JSON.stringify(report));
  } finally {
    for (const s of servers) await s.stop();
    rmSync(artifacts, { recursive: true, force: true });
    for (const dir of states.values()) rmSync(dir, { recursive: true, force: true });
  }
});
