// Carries out a deploy plan: every check has passed and every secret has a value before the
// first change, then the needed steps run in order, each stopping the deploy when it fails.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WranglerConfig } from "./config.ts";
import type { Plan, Step } from "./plan.ts";
import { type CommandRunner, shown } from "./runner.ts";

export interface DeployIo {
  run: CommandRunner;
  log(line: string): void;
  /** Values for the missing secrets (asked for, or from the environment). */
  secrets(missing: readonly string[]): Promise<Record<string, string>>;
  writeDatabaseId(config: WranglerConfig, id: string): void;
}

/** Refuses, changing nothing, a plan that cannot be carried out as it stands. */
function checkRunnable(plan: Plan): void {
  const f = plan.findings;
  if (!f.loggedIn)
    throw new Error(
      "not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID), then deploy again; nothing was changed",
    );
  if (f.unchecked.length > 0) throw new Error(`could not check ${f.unchecked.join("; ")}: nothing was changed`);
  if ("problem" in f.model) throw new Error(`nothing to publish: ${f.model.problem}; nothing was changed`);
}

async function runStep(io: DeployIo, step: Step, command: string[], stream = true): Promise<string> {
  io.log(`$ ${shown(command)}`);
  const r = await io.run(command, { stream });
  if (r.code !== 0) throw new Error(`${step.title}: \`${shown(command)}\` failed (exit code ${r.code})${r.stderr ? `: ${r.stderr.trim().slice(-1500)}` : ""}`);
  return r.stdout;
}

async function databaseId(io: DeployIo, name: string): Promise<string> {
  const r = await io.run(["npx", "wrangler", "d1", "list", "--json"]);
  const text = r.stdout;
  const list = JSON.parse(text.slice(text.indexOf("["), text.lastIndexOf("]") + 1) || "[]") as { name?: string; uuid?: string }[];
  const id = list.find((d) => d.name === name)?.uuid;
  if (!id)
    throw new Error(`D1 database ${name} was created but \`wrangler d1 list --json\` does not list it: set its id in wrangler.toml by hand and deploy again`);
  return id;
}

export async function carryOut(plan: Plan, io: DeployIo): Promise<void> {
  checkRunnable(plan);
  const f = plan.findings;
  const secrets = f.missingSecrets && f.missingSecrets.length > 0 ? await io.secrets(f.missingSecrets) : {};
  let dbId = f.databaseId ?? null;
  for (const step of plan.steps) {
    if (step.status === "skip") continue;
    io.log(`\n-> ${step.title}: ${step.found}`);
    switch (step.id) {
      case "database":
        await runStep(io, step, step.command ?? []);
        dbId = await databaseId(io, plan.config.database.name);
        break;
      case "database-id":
        if (!dbId) throw new Error("the database's id is unknown: nothing to write into wrangler.toml");
        io.writeDatabaseId(plan.config, dbId);
        io.log(`wrote database_id = "${dbId}" into ${plan.config.path}`);
        break;
      case "secrets":
        io.log(`${Object.keys(secrets).join(", ")}: uploaded with the deploy (--secrets-file, removed afterwards)`);
        break;
      case "deploy": {
        if (Object.keys(secrets).length === 0) {
          await runStep(io, step, ["npx", "wrangler", "deploy"]);
          break;
        }
        // the secrets go up with the new version itself: it is never live without them
        const scratch = mkdtempSync(join(tmpdir(), "edgerec-deploy-"));
        try {
          const file = join(scratch, "secrets.json");
          writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
          await runStep(io, step, ["npx", "wrangler", "deploy", "--secrets-file", file]);
        } finally {
          rmSync(scratch, { recursive: true, force: true });
        }
        break;
      }
      default:
        await runStep(io, step, step.command ?? []);
    }
  }
}
