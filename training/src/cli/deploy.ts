// npm run deploy: the whole deploy to Cloudflare. Creates the R2 bucket and the D1 database when
// missing, writes the database's id into wrangler.toml, applies pending remote migrations, asks
// for missing secrets, deploys the Worker and publishes the model. --dry-run prints the plan.
import { Command } from "commander";
import { readWranglerConfig, writeDatabaseId } from "../deploy/config.ts";
import { carryOut } from "../deploy/execute.ts";
import { buildPlan, formatPlan, inspect } from "../deploy/plan.ts";
import { processRunner } from "../deploy/runner.ts";
import { REQUIRED_SECRETS, secretValues } from "../deploy/secrets.ts";
import { runCli } from "./options.ts";

const program = new Command("deploy")
  .description(
    `Deploy to Cloudflare: create the R2 bucket and the D1 database named in wrangler.toml when missing (and write the database's id there), apply pending remote D1 migrations, ask for missing secrets (${REQUIRED_SECRETS.map((s) => s.name).join(", ")}; or set them as environment variables), run wrangler deploy, and publish the exported model with the best valid NDCG@10 (publish --remote). Needs \`npx wrangler login\` (or CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID).`,
  )
  .option("--dry-run", "print the plan (each step, its command, what is missing) and change nothing; works without an account", false)
  .option("--artifacts <dir>", "artifacts folder holding the exported models", "artifacts")
  .option("--model <name>", "exported model to publish (default: the best on valid NDCG@10)");
program.parse();
const opts = program.opts<{ dryRun: boolean; artifacts: string; model?: string }>();

await runCli(async () => {
  const config = readWranglerConfig();
  const planOpts = { artifacts: opts.artifacts, model: opts.model };
  console.log(`checking what Cloudflare already has for ${config.worker} (read-only)...`);
  const plan = buildPlan(config, await inspect(processRunner, config, planOpts), planOpts);
  console.log(`\n${opts.dryRun ? "Deploy plan (dry run: nothing is changed)" : "Deploy plan"}\n${formatPlan(plan)}`);
  if (opts.dryRun) return;
  await carryOut(plan, {
    run: processRunner,
    log: (line) => console.log(line),
    secrets: (missing) => secretValues(missing),
    writeDatabaseId,
  });
  console.log(`\ndeployed ${config.worker} and published the model`);
});
