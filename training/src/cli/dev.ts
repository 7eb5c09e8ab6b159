// npm run dev: the Worker under `wrangler dev` on 127.0.0.1 (local R2 and D1 from .wrangler/state,
// no outbound calls), with the local D1 migrated first. Serves whatever model is published to the
// local R2 (`npm start` or `npm run publish -- --local` put one there).
import { spawn } from "node:child_process";
import { Command } from "commander";
import { OFFLINE_WRANGLER_ENV } from "../publish/targets.ts";
import { ensureUserTokenSecret } from "../serve/dev-secrets.ts";
import { ensureDevToken, migrateLocalD1 } from "../serve/local-setup.ts";
import { checkPortFree } from "../start/preflight.ts";
import { integer, runCli } from "./options.ts";

const program = new Command("dev")
  .description("Migrate the local D1, then run wrangler dev on 127.0.0.1. Options this command does not know are passed to wrangler dev.")
  .option("--port <n>", "port on 127.0.0.1", integer, 8787)
  .allowUnknownOption()
  .allowExcessArguments();
program.parse();
const opts = program.opts<{ port: number }>();

await runCli(async () => {
  await checkPortFree(opts.port);
  await migrateLocalD1();
  // the admin token and the user-token secret, as npm start writes them (kept when present)
  ensureDevToken();
  ensureUserTokenSecret();
  const child = spawn("npx", ["wrangler", "dev", "--ip", "127.0.0.1", "--port", String(opts.port), ...program.args], {
    env: { ...process.env, ...OFFLINE_WRANGLER_ENV },
    stdio: "inherit",
  });
  // Ctrl-C reaches wrangler (same process group); this process only waits for it
  process.on("SIGINT", () => {});
  const code = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  process.exitCode = code;
});
