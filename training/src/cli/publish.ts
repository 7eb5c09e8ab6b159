// npm run publish: upload the exported bundle to R2 and switch models/current.json to it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { modelDir } from "../contract/artifacts.ts";
import { publishBundle } from "../publish/publish.ts";
import { localTarget, remoteTarget } from "../publish/targets.ts";
import { runCli } from "./options.ts";

const program = new Command("publish")
  .description("Upload artifacts/<model>/ to R2 under models/<version>/, then point models/current.json at it (written last).")
  .addOption(new Option("--local", "the local R2 that `wrangler dev` uses (.wrangler/state)").conflicts("remote"))
  .addOption(new Option("--remote", "the real R2 bucket named in wrangler.toml (needs `wrangler login`)"))
  .option("--model <name>", "exported model to publish", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts");
program.parse();
const opts = program.opts<{ local?: boolean; remote?: boolean; model: string; artifacts: string }>();

function bucketName(): string {
  const toml = readFileSync("wrangler.toml", "utf8");
  const m = /\[\[r2_buckets\]\][^[]*?bucket_name\s*=\s*"([^"]+)"/s.exec(toml);
  if (!m) throw new Error("wrangler.toml declares no [[r2_buckets]] bucket_name");
  return m[1];
}

await runCli(async () => {
  if (!opts.local && !opts.remote) throw new Error("say where to publish: --local (wrangler dev) or --remote (Cloudflare)");
  const target = opts.local ? await localTarget() : remoteTarget(bucketName());
  try {
    const pointer = await publishBundle(join(opts.artifacts, modelDir(opts.model)), target, (l) => console.error(l));
    console.log(`published ${pointer.version} to ${target.describe}`);
  } finally {
    await target.close();
  }
});
