// npm start: the whole product on a fresh clone, serving within about two minutes. Checks the
// port and the data first; trains EASE (seconds), publishes it to the local R2 + D1 and serves it
// with `wrangler dev` on 127.0.0.1; then trains LightGCN and the EASE + LightGCN blend in the
// background and publishes each that beats the served model on valid NDCG@10, which the running
// Worker swaps in. A second start with the same data, code and options reuses what was trained.
import { join } from "node:path";
import { Command } from "commander";
import { modelDir } from "../contract/artifacts.ts";
import { datasetSpec, requiredFiles } from "../data/datasets.ts";
import { ensureDataset } from "../data/fetch.ts";
import { ensureUserTokenSecret } from "../serve/dev-secrets.ts";
import { ensureDevToken } from "../serve/local-setup.ts";
import { type DevServer, startWranglerDev } from "../serve/wrangler-dev.ts";
import { type CacheInputs, cacheKey, dataDigest, isReusable, recordTrained, sourceDigest, validNdcg10, wasInterrupted } from "../start/cache.ts";
import { type CliChild, startCli } from "../start/child.ts";
import { type DemoToken, demoUserToken, servingExamples } from "../start/examples.ts";
import { checkDataSource, checkPortFree } from "../start/preflight.ts";
import { type StartSteps, runStart } from "../start/session.ts";
import { type DataOptions, type ProtocolOptions, addDataOptions, addProtocolOptions, integer, runCli } from "./options.ts";

/** Served first: EASE trains in seconds and ranks well. */
const FIRST_MODEL = "ease";
/** Trained after serving started (minutes each on ML-1M), served when better on valid. */
const BACKGROUND_MODELS = ["lightgcn", "blend"];
/** CPU priority of background training (nice value): requests to the Worker come first. */
const BACKGROUND_NICENESS = 10;

const program = addProtocolOptions(addDataOptions(new Command("start")))
  .description(
    `Check the port and the data, train ${FIRST_MODEL}, publish it to the local R2 + D1 and serve it with wrangler dev on 127.0.0.1; then train ${BACKGROUND_MODELS.join(" and ")} in the background and publish each that beats the served model on valid NDCG@10 (the running Worker swaps to it). Models trained by an earlier start with the same data, code and options are reused.`,
  )
  .option("--port <n>", "port of wrangler dev on 127.0.0.1", integer, 8787)
  .option("--retrain", "train every model again, even when an earlier start trained it with the same data, code and options", false)
  .option("--refresh-seconds <n>", "how often the local Worker looks for a newly published model (MODEL_REFRESH_SECONDS)", integer, 2)
  .option("--no-serve", `train ${[FIRST_MODEL, ...BACKGROUND_MODELS].join(", ")} in the foreground, publish the best to the local R2 and stop`);
program.parse();
const opts = program.opts<DataOptions & ProtocolOptions & { port: number; retrain: boolean; refreshSeconds: number; serve: boolean }>();

const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;

await runCli(async () => {
  const started = performance.now();
  const log = (line: string): void => console.log(`[start ${seconds(started)}] ${line}`);
  // before any data or training work: a busy port would otherwise fail minutes later
  if (opts.serve) await checkPortFree(opts.port);
  const spec = datasetSpec(opts.dataset);
  const source = await checkDataSource(spec, { dataDir: opts.dataDir, from: opts.from });
  const dataDir = await ensureDataset(spec, { from: opts.from, dataDir: opts.dataDir, log });
  const inputs: CacheInputs = {
    data: dataDigest(requiredFiles(spec).map((f) => join(dataDir, f))),
    source: sourceDigest(),
    options: { dataset: opts.dataset, protocol: opts.protocol, seed: opts.seed },
  };
  if (source.kind !== "present") log(`${spec.name} ready in ${dataDir}`);

  let training: CliChild | null = null;
  /** Every child running now (training, publishing): stopped with this process. */
  const children = new Set<CliChild>();
  const track = async (child: CliChild): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    children.add(child);
    try {
      return await child.exited;
    } finally {
      children.delete(child);
    }
  };
  let server: DevServer | null = null;
  let serverStarting: Promise<DevServer> | null = null;
  /** Stops wrangler dev, also one still starting (it runs in a process group of its own). */
  const stopServer = async (): Promise<void> => {
    const s = server ?? (serverStarting ? await serverStarting.catch(() => null) : null);
    await s?.stop();
  };
  // Ctrl-C while a model trains in the foreground: the child (same process group) stops after
  // its current step, keeps its best checkpoint and exits, and this process waits for it. While
  // serving: wrangler dev and the background training stop. SIGTERM stops everything at once.
  let onInterrupt = (): void => {
    // a model training in the foreground got the Ctrl-C too: it stops after its step, and this
    // process waits for it
    if (training && !serverStarting) return;
    for (const c of children) c.child.kill("SIGTERM");
    void stopServer().then(() => process.exit(130));
  };
  process.on("SIGINT", () => onInterrupt());
  process.on("SIGTERM", () => {
    for (const c of children) c.child.kill("SIGTERM");
    void stopServer().then(() => process.exit(143));
  });
  const data = ["--dataset", opts.dataset, "--data-dir", opts.dataDir];
  /** The demo user's token, minted when serving starts and printed with the examples. */
  let demo: DemoToken | null = null;
  /** The first model is served and the examples printed: later publications are hot swaps. */
  let announced = false;
  const steps: StartSteps = {
    reusable: (model) => isReusable(opts.artifacts, model, cacheKey(model, inputs)),
    async train(model) {
      const t = performance.now();
      log(`training ${model}${server ? " in the background" : ""}`);
      training = startCli(
        "train.ts",
        ["--model", model, ...data, "--protocol", opts.protocol, "--seed", String(opts.seed), "--artifacts", opts.artifacts],
        // in the background: the Worker answering requests comes first
        { prefix: `[train ${model}]`, niceness: server ? BACKGROUND_NICENESS : 0 },
      );
      const { code, signal } = await track(training);
      training = null;
      if (signal || (code === 0 && wasInterrupted(opts.artifacts, model))) return "interrupted";
      if (code !== 0) throw new Error(`training ${model} stopped with exit code ${code} (its output above says why)`);
      log(`${model} trained in ${seconds(t)}: valid NDCG@10 ${validNdcg10(opts.artifacts, model)?.toFixed(4)}, in ${join(opts.artifacts, modelDir(model))}/`);
      return "done";
    },
    record: (model) => recordTrained(opts.artifacts, model, cacheKey(model, inputs), inputs),
    score: (model) => validNdcg10(opts.artifacts, model),
    async publish(model) {
      // the same path as `npm run publish -- --local` (it applies the local D1 migrations first);
      // --force: what this start trained is what the user asked to serve, even over a newer
      // publication left in the local R2 by another run
      const { code, signal } = await track(
        startCli("publish.ts", ["--local", "--model", model, "--force", "--artifacts", opts.artifacts], { prefix: "[publish]" }),
      );
      if (code !== 0) throw new Error(`publishing ${model} failed (${signal ?? `exit code ${code}`}; see [publish] above)`);
      if (announced && server) log(`published ${model}: the Worker on ${server.url} swaps to it within ${opts.refreshSeconds} s`);
    },
    async serve() {
      // both secrets before wrangler dev reads .dev.vars: the admin token and the key user tokens are signed with
      ensureDevToken();
      demo = await demoUserToken(ensureUserTokenSecret());
      log(`starting wrangler dev on 127.0.0.1:${opts.port}`);
      serverStarting = startWranglerDev(opts.port, { vars: { MODEL_REFRESH_SECONDS: String(opts.refreshSeconds) }, readyWithoutModel: true });
      server = await serverStarting;
      log(`wrangler dev answers on ${server.url} (in ${(server.readyMs / 1000).toFixed(1)} s)`);
    },
    ready() {
      announced = true;
      if (server && demo) console.log(servingExamples(server.url, ensureDevToken(), demo));
    },
    log,
  };

  try {
    const result = await runStart(steps, { first: FIRST_MODEL, background: BACKGROUND_MODELS, retrain: opts.retrain, serve: opts.serve });
    if (!result.served) {
      log("training was interrupted: nothing was published");
      return;
    }
    const running = server as DevServer | null;
    if (!running) return;
    await new Promise<void>((resolve, reject) => {
      let stopping = false;
      onInterrupt = () => {
        if (stopping) process.exit(130);
        stopping = true;
        const child = training as CliChild | null;
        log(`stopping wrangler dev${child ? " and the background training (not kept: the next npm start trains it again)" : ""}`);
        for (const c of children) c.child.kill("SIGTERM");
        void running.stop().then(resolve);
      };
      running.child.once("exit", (code) => {
        if (!stopping) reject(new Error(`wrangler dev exited (code ${code}) while serving`));
      });
      // the background goes on while serving; runStart logs how each model fares
      void result.background.catch((err: Error) => log(`background training failed: ${err.message}`));
    });
  } finally {
    for (const c of children) c.child.kill("SIGTERM");
    await stopServer();
  }
});
