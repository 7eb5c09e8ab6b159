// npm run publish: upload the exported bundle to R2 and switch models/current.json to it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { modelDir } from "../contract/artifacts.ts";
import { bestExported } from "../publish/choose.ts";
import { migrateRemote } from "../publish/d1-migrations.ts";
import { publishLocal } from "../publish/local.ts";
import { publishBundle } from "../publish/publish.ts";
import { readBundle } from "../publish/read-bundle.ts";
import { remoteSnapshotTarget, remoteTarget } from "../publish/targets.ts";
import { runCli } from "./options.ts";

const program = new Command("publish")
  .description(
    "Upload artifacts/<model>/ to R2 under models/<version>/, then point models/current.json at it (written last, only forward: an older bundle than the one served is refused without --force; the served version again is a no-op).",
  )
  .addOption(new Option("--local", "the local R2 that `wrangler dev` uses (.wrangler/state)").conflicts("remote"))
  .addOption(new Option("--remote", "the real R2 bucket named in wrangler.toml (needs `wrangler login`)"))
  .option("--model <name>", "exported model to publish (default: the exported model with the best valid NDCG@10)")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--persist-to <dir>", "with --local: the folder `wrangler dev --persist-to` uses (default .wrangler/state)")
  .option("--force", "publish even if R2 serves a newer model (a deliberate rollback)", false)
  .addHelpText(
    "after",
    "\nSafe while the Worker serves: pending D1 migrations are found by a read-only look and applied only then; a write that finds the local state busy (wrangler dev writing ratings) is retried with backoff. See docs/publishing.md.",
  );
program.parse();
const opts = program.opts<{ local?: boolean; remote?: boolean; model?: string; artifacts: string; force: boolean; persistTo?: string }>();

function tomlSetting(table: string, key: string): string {
  const toml = readFileSync("wrangler.toml", "utf8");
  const m = new RegExp(`\\[\\[${table}\\]\\][^[]*?${key}\\s*=\\s*"([^"]+)"`, "s").exec(toml);
  if (!m) throw new Error(`wrangler.toml declares no [[${table}]] ${key}`);
  return m[1];
}

await runCli(async () => {
  if (!opts.local && !opts.remote) throw new Error("say where to publish: --local (wrangler dev) or --remote (Cloudflare)");
  if (opts.remote && opts.persistTo) throw new Error("--persist-to names a local state folder: use it with --local, not --remote");
  let model = opts.model;
  if (!model) {
    const { chosen, candidates } = bestExported(opts.artifacts);
    model = chosen.model;
    console.error(
      `publishing ${model}, the best on valid NDCG@10 of the exported models: ${candidates.map((c) => `${c.model} ${c.validNdcg10.toFixed(4)}`).join(", ")}`,
    );
  }
  const bundle = readBundle(join(opts.artifacts, modelDir(model)));
  const log = (line: string): void => console.error(line);
  if (opts.local) {
    const { pointer, changed, describe } = await publishLocal(bundle, { persistTo: opts.persistTo, force: opts.force, log });
    console.log(changed ? `published ${pointer.version} to ${describe}` : `${pointer.version} was already published to ${describe}`);
    return;
  }
  // a per_user "d1" bundle writes to the snapshots table (migration 0002): applied first, only
  // when the database lacks it (one SELECT of the migrations table tells)
  const applied = await migrateRemote({ log });
  if (applied.length > 0) log(`D1 migrated: ${applied.join(", ")}`);
  const target = { ...remoteTarget(tomlSetting("r2_buckets", "bucket_name")), snapshots: remoteSnapshotTarget(tomlSetting("d1_databases", "database_name")) };
  try {
    const { pointer, changed } = await publishBundle(bundle, target, { log, force: opts.force });
    console.log(changed ? `published ${pointer.version} to ${target.describe}` : `${pointer.version} was already published to ${target.describe}`);
  } finally {
    await target.close();
  }
});
