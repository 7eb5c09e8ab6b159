// npm start: the whole product on a fresh clone. Fetch MovieLens-1M, train LightGCN beside the
// quick baselines, export it, publish it to the local R2 and serve it with `wrangler dev` on
// 127.0.0.1:8787.
import { join } from "node:path";
import { Command } from "commander";
import { modelDir } from "../contract/artifacts.ts";
import { runTraining } from "../pipeline/run.ts";
import { publishBundle } from "../publish/publish.ts";
import { readBundle } from "../publish/read-bundle.ts";
import { localTarget } from "../publish/targets.ts";
import { DEV_VARS, ensureDevToken, migrateLocalD1 } from "../serve/local-setup.ts";
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
const opts = program.opts<{
  dataset: string;
  from?: string;
  dataDir: string;
  protocol: string;
  seed: number;
  artifacts: string;
  port: number;
  serve: boolean;
}>();

function examples(url: string, token: string): string {
  const auth = `-H "Authorization: Bearer $TOKEN"`;
  const json = "-H 'Content-Type: application/json'";
  return [
    `\nServing on ${url} (Ctrl-C to stop). Every route but /health needs the token from ${DEV_VARS}. Try:`,
    `  export TOKEN=${token}`,
    `  curl ${auth} ${url}/users/1/recs`,
    `  curl ${auth} '${url}/users/1/recs?k=5'`,
    `  curl ${auth} ${url}/movies/1/similar`,
    `  curl ${url}/health`,
    "A new user: rate movies (live, stored in the local D1), then get fold-in recommendations:",
    `  curl -X POST ${url}/users/100000/ratings ${auth} ${json} -d '{"ratings": [{"movieId": 1, "rating": 5}, {"movieId": 2571, "rating": 5}, {"movieId": 1193}]}'`,
    `  curl ${auth} ${url}/users/100000/recs`,
    `  curl ${auth} ${url}/users/100000/ratings`,
    `  curl -X DELETE ${auth} ${url}/users/100000`,
    "A visitor who keeps their own history (nothing stored):",
    `  curl -X POST ${url}/recs ${auth} ${json} -d '{"history": [{"movieId": 260, "rating": 5}, {"movieId": 1196, "rating": 4}], "k": 5}'`,
    "",
  ].join("\n");
}

await runCli(async () => {
  const started = performance.now();
  const { table, results } = await runTraining({ ...opts, models: START_MODELS });
  console.log(
    `\n${table}\n\nmetrics in ${opts.artifacts}/<model>/metrics.json, split in ${opts.artifacts}/split/ (${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  if (results.find((r) => r.model === SERVED)?.stopped === "interrupted") {
    console.log("training was interrupted: not publishing");
    return;
  }
  const target = await localTarget();
  try {
    // a fresh training run is what the user asked to serve, even over a newer local publication
    const { pointer } = await publishBundle(readBundle(join(opts.artifacts, modelDir(SERVED))), target, { log: (l) => console.error(l), force: true });
    console.log(`published ${pointer.version} to ${target.describe}`);
  } finally {
    await target.close();
  }
  await migrateLocalD1();
  const token = ensureDevToken();
  console.log(`local D1 migrated (worker/migrations); API token for the write routes in ${DEV_VARS}`);
  if (!opts.serve) return;
  const server = await startWranglerDev(opts.port);
  console.log(examples(server.url, token));
  await new Promise<void>((resolve) => {
    const stop = (): void => void server.stop().then(resolve);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    server.child.once("exit", () => resolve());
  });
});
