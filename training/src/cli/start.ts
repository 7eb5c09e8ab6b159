// npm start: the whole product on a fresh clone. Fetch MovieLens-1M, train LightGCN beside the
// quick baselines, export it, publish it to the local R2 and serve it with `wrangler dev` on
// 127.0.0.1:8787.
import { join } from "node:path";
import { Command } from "commander";
import { modelDir } from "../contract/artifacts.ts";
import { runTraining } from "../pipeline/run.ts";
import { publishBundle } from "../publish/publish.ts";
import { localTarget } from "../publish/targets.ts";
import { startWranglerDev } from "../serve/wrangler-dev.ts";
import { addDataOptions, addProtocolOptions, integer, runCli } from "./options.ts";

/** LightGCN, the product's model, with the baselines that train in seconds. */
const START_MODELS = ["pop", "itemknn", "ease", "lightgcn"];
const SERVED = "lightgcn";

const program = addProtocolOptions(addDataOptions(new Command("start")))
  .description(`Fetch the data, train and evaluate ${START_MODELS.join(", ")}, export ${SERVED}, publish it to the local R2 and serve it with wrangler dev.`)
  .option("--port <n>", "port of wrangler dev on 127.0.0.1", integer, 8787)
  .option("--no-serve", "stop after publishing to the local R2");
program.parse();
const opts = program.opts<{ dataset: string; from?: string; dataDir: string; protocol: string; seed: number; artifacts: string; port: number; serve: boolean }>();

await runCli(async () => {
  const started = performance.now();
  const { table, results } = await runTraining({ ...opts, models: START_MODELS });
  console.log(`\n${table}\n\nmetrics in ${opts.artifacts}/<model>/metrics.json, split in ${opts.artifacts}/split/ (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  if (results.find((r) => r.model === SERVED)?.stopped === "interrupted") {
    console.log("training was interrupted: not publishing");
    return;
  }
  const target = await localTarget();
  try {
    const pointer = await publishBundle(join(opts.artifacts, modelDir(SERVED)), target, (l) => console.error(l));
    console.log(`published ${pointer.version} to ${target.describe}`);
  } finally {
    await target.close();
  }
  if (!opts.serve) return;
  const server = await startWranglerDev(opts.port);
  const user = 1;
  console.log(`\nServing on ${server.url} (Ctrl-C to stop). Try:\n  curl ${server.url}/users/${user}/recs\n  curl '${server.url}/users/${user}/recs?k=5'\n  curl ${server.url}/movies/1/similar\n  curl ${server.url}/health\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => void server.stop().then(resolve);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    server.child.once("exit", () => resolve());
  });
});
