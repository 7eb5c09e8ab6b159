// npm run rollback: serve again the version served before the current one (training/src/retrain/rollback.ts).
import { userInfo } from "node:os";
import { Command, Option } from "commander";
import { rollback } from "../retrain/rollback.ts";
import { localStore, remoteStore } from "../retrain/store.ts";
import { runCli } from "./options.ts";

const program = new Command("rollback")
  .description(
    "Point models/current.json back at the version served before the current one (found in D1's publish records; its files are still in R2). The pointer is written last, with a compare-and-swap: atomic.",
  )
  .addOption(new Option("--remote", "the real D1 and R2 named in wrangler.toml (default: the local ones of wrangler dev)"))
  .option("--persist-to <dir>", "the local state folder `wrangler dev --persist-to` uses (default .wrangler/state)")
  .option("--actor <name>", "who is rolling back, for the record (default $GITHUB_ACTOR, else the OS user)");
program.parse();
const opts = program.opts<{ remote?: boolean; persistTo?: string; actor?: string }>();

await runCli(async () => {
  if (opts.remote && opts.persistTo) throw new Error("--persist-to names a local state folder: use it without --remote");
  const log = (line: string): void => console.error(line);
  const store = opts.remote ? await remoteStore(log) : await localStore(opts.persistTo, log);
  const { from, to } = await rollback(store, { actor: opts.actor ?? process.env.GITHUB_ACTOR ?? userInfo().username, log });
  console.log(`rolled back: ${from || "(nothing)"} -> ${to}`);
});
