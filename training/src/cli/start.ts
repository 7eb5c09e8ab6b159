// npm start: the whole product on a fresh clone. Fetch MovieLens-1M, train LightGCN, the blend
// of EASE and LightGCN and the quick baselines, publish the exported model with the best valid
// NDCG@10 to the local R2 and serve it with `wrangler dev` on 127.0.0.1:8787.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { METRICS_FILE, type MetricsFile, modelDir } from "../contract/artifacts.ts";
import { DEV_VARS, ensureDevToken, migrateLocalD1 } from "../serve/local-setup.ts";
import { startWranglerDev } from "../serve/wrangler-dev.ts";
import { type DataOptions, type ProtocolOptions, addDataOptions, addProtocolOptions, integer, runCli } from "./options.ts";

/** LightGCN, the product's model, its blend with EASE, and the baselines that train in seconds. */
const START_MODELS = ["pop", "itemknn", "ease", "lightgcn", "blend"];

const program = addProtocolOptions(addDataOptions(new Command("start")))
  .description(
    `Fetch the data, train and evaluate ${START_MODELS.join(", ")}, publish the exported model with the best valid NDCG@10 to the local R2 and serve it with wrangler dev.`,
  )
  .option("--port <n>", "port of wrangler dev on 127.0.0.1", integer, 8787)
  .option("--no-serve", "stop after publishing to the local R2");
program.parse();
const opts = program.opts<
  DataOptions &
    ProtocolOptions & {
      port: number;
      serve: boolean;
    }
>();

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

/**
 * Runs another of the CLIs (train, publish) in a child process, so the memory it takes
 * (training: about 700 MB on ML-1M; wrangler's platform proxy for publishing: about 400 MB) is
 * given back before serving starts instead of being held for as long as this process serves.
 * Ctrl-C reaches the child too: training stops, keeps its best checkpoint and exits.
 */
function runChild(cliFile: string, args: string[], what: string): Promise<void> {
  const cli = fileURLToPath(new URL(cliFile, import.meta.url));
  const ignoreSigint = (): void => {}; // the child handles the first Ctrl-C; this process waits for it
  process.on("SIGINT", ignoreSigint);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, cli, ...args], { stdio: "inherit" });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      process.off("SIGINT", ignoreSigint);
      if (code === 0) resolve();
      else reject(new Error(`${what} stopped (${signal ?? `exit code ${code}`})`));
    });
  });
}

await runCli(async () => {
  const started = performance.now();
  const data = ["--dataset", opts.dataset, "--data-dir", opts.dataDir, ...(opts.from ? ["--from", opts.from] : [])];
  await runChild(
    "./train.ts",
    ["--model", START_MODELS.join(","), ...data, "--protocol", opts.protocol, "--seed", String(opts.seed), "--artifacts", opts.artifacts],
    "training",
  );
  console.log(
    `trained in ${((performance.now() - started) / 1000).toFixed(1)} s; metrics in ${opts.artifacts}/<model>/metrics.json, split in ${opts.artifacts}/split/`,
  );
  const interrupted = START_MODELS.filter((m) => {
    const metrics = JSON.parse(readFileSync(join(opts.artifacts, modelDir(m), METRICS_FILE), "utf8")) as MetricsFile;
    return metrics.stopped === "interrupted";
  });
  if (interrupted.length > 0) {
    console.log(`training of ${interrupted.join(", ")} was interrupted: not publishing`);
    return;
  }
  // a fresh training run is what the user asked to serve, even over a newer local publication;
  // publish picks the exported model with the best valid NDCG@10
  await runChild("./publish.ts", ["--local", "--force", "--artifacts", opts.artifacts], "publishing");
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
