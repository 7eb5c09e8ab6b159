// npm run retrain: live ratings and deletions from D1 -> a candidate trained with them -> scored
// against the served model on the same checks -> published only when not worse (training/src/retrain).
import { userInfo } from "node:os";
import { Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_TOLERANCE, MEASURED_SEED_SD } from "../retrain/gate.ts";
import { DEFAULT_RECENT_SHARE, exitStatusOf, retrain } from "../retrain/retrain.ts";
import { localStore, remoteStore } from "../retrain/store.ts";
import { runCli } from "./options.ts";

function fraction(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || n > max) throw new InvalidArgumentError(`"${value}" is not a number from 0 to ${max}.`);
    return n;
  };
}

const program = new Command("retrain")
  .description(
    "Train a candidate on the original train split plus the live ratings in D1 (forgotten users left out), score it and the served model on the fixed holdout and on the most recent live ratings, and publish it only when it is not worse beyond --tolerance. Exit status 3: refused, nothing changed.",
  )
  .addOption(new Option("--remote", "the real D1 and R2 named in wrangler.toml, through wrangler (default: the local ones of wrangler dev)"))
  .option("--persist-to <dir>", "the local state folder `wrangler dev --persist-to` uses (default .wrangler/state)")
  .option("--model <name>", "the candidate's model (default: the served version's model)")
  .option(
    "--tolerance <ndcg>",
    `how much lower the candidate's NDCG@10 may be (default 2 x ${MEASURED_SEED_SD}, the seed-to-seed sd measured in docs/retraining.md)`,
    fraction(1),
    DEFAULT_TOLERANCE,
  )
  .option("--recent <share>", "share of the live positive ratings, the most recent, held out as the second check", fraction(0.9), DEFAULT_RECENT_SHARE)
  .option("--artifacts <dir>", "the artifacts folder holding split/ (the candidate goes to <dir>/retrain/)", "artifacts")
  .option("--actor <name>", "who is publishing, for the record (default $GITHUB_ACTOR, else the OS user)")
  .option("--dry-run", "print one JSON line (live_ratings, deleted_users, the data window) and train nothing", false);
program.parse();
const opts = program.opts<{
  remote?: boolean;
  persistTo?: string;
  model?: string;
  tolerance: number;
  recent: number;
  artifacts: string;
  actor?: string;
  dryRun: boolean;
}>();

await runCli(async () => {
  if (opts.remote && opts.persistTo) throw new Error("--persist-to names a local state folder: use it without --remote");
  const log = (line: string): void => console.error(line);
  const store = opts.remote ? await remoteStore(log) : await localStore(opts.persistTo, log);
  const outcome = await retrain(store, {
    artifacts: opts.artifacts,
    model: opts.model,
    tolerance: opts.tolerance,
    recentShare: opts.recent,
    dryRun: opts.dryRun,
    actor: opts.actor ?? process.env.GITHUB_ACTOR ?? userInfo().username,
    log,
  });
  if (outcome.kind === "dry-run") {
    console.log(JSON.stringify(outcome.summary));
  } else if (outcome.kind === "refused") {
    console.log(
      `not published: ${outcome.candidate} is worse than the served ${outcome.served} beyond the tolerance ${outcome.verdict.tolerance.toFixed(4)}\n${outcome.verdict.lines.join("\n")}`,
    );
    process.exitCode = exitStatusOf(outcome);
  } else {
    console.log(`published ${outcome.candidate}${outcome.served ? ` (replacing ${outcome.served})` : ""}`);
  }
});
