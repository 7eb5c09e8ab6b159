// The deploy as a plan: what the Cloudflare account already has (through read-only wrangler
// commands) and, from that, each step with the command it runs and whether it is needed. The
// same plan is printed by --dry-run and carried out by a deploy. Without credentials nothing
// remote can be checked: the plan says so, and lists the steps that would run if needed.
import { readdirSync } from "node:fs";
import { stripVTControlCharacters } from "node:util";
import { bestExported } from "../publish/choose.ts";
import { PLACEHOLDER_DATABASE_ID, type WranglerConfig } from "./config.ts";
import { type CommandRunner, shown } from "./runner.ts";
import { REQUIRED_SECRETS } from "./secrets.ts";

const WRANGLER = ["npx", "wrangler"] as const;

export type StepId = "bucket" | "database" | "database-id" | "migrations" | "secrets" | "deploy" | "publish";

export interface Step {
  id: StepId;
  title: string;
  /** The command it runs (none for an edit this tool makes itself). */
  command: string[] | null;
  /** run: needed; skip: already done; unknown: could not be checked (it runs when needed). */
  status: "run" | "skip" | "unknown";
  /** What was found. */
  found: string;
}

export interface Findings {
  /** Credentials found (wrangler whoami): without them nothing remote is checked. */
  loggedIn: boolean;
  whoami: string;
  bucketExists: boolean | null;
  /** The database's id when it exists, null when it does not, undefined when it could not be checked. */
  databaseId: string | null | undefined;
  /** Migrations not yet applied remotely; null: could not be checked. */
  pendingMigrations: string[] | null;
  /** Required secrets the Worker lacks; null: could not be checked. */
  missingSecrets: string[] | null;
  /** The model publish would choose, or why there is none. */
  model: { name: string; validNdcg10: number } | { problem: string };
  /** Why a check failed, one line each. */
  unchecked: string[];
}

export interface Plan {
  config: WranglerConfig;
  findings: Findings;
  steps: Step[];
}

export interface PlanOptions {
  artifacts: string;
  /** The model to publish (default: the exported one with the best valid NDCG@10). */
  model?: string | undefined;
  migrationsDir?: string;
}

const NOT_LOGGED_IN = /not authenticated|not logged in|CLOUDFLARE_API_TOKEN environment variable/i;

function firstLine(text: string): string {
  const plain = stripVTControlCharacters(text);
  const error = plain.split("\n").find((l) => /ERROR|✘/.test(l)) ?? plain.split("\n").find((l) => l.trim()) ?? "";
  return error
    .replace(/^\s*✘?\s*\[ERROR\]\s*/, "")
    .trim()
    .slice(0, 300);
}

/** The JSON array in a command's output (wrangler may print a banner before it). */
function jsonArray(text: string): unknown[] | null {
  const from = text.indexOf("[");
  const to = text.lastIndexOf("]");
  if (from < 0 || to < from) return null;
  try {
    const value = JSON.parse(text.slice(from, to + 1)) as unknown;
    return Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

function localMigrations(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".sql"))
      .sort();
  } catch {
    return [];
  }
}

/** Reads what the account has, with read-only commands only. */
export async function inspect(run: CommandRunner, config: WranglerConfig, opts: PlanOptions): Promise<Findings> {
  const unchecked: string[] = [];
  let model: Findings["model"];
  try {
    const { chosen, candidates } = bestExported(opts.artifacts);
    const named = opts.model ? candidates.find((c) => c.model === opts.model) : chosen;
    model = named
      ? { name: named.model, validNdcg10: named.validNdcg10 }
      : { problem: `${opts.artifacts} has no exported model ${opts.model}: exported are ${candidates.map((c) => c.model).join(", ")}` };
  } catch (err) {
    model = { problem: `${(err as Error).message} (or run npm start)` };
  }

  const who = await run([...WRANGLER, "whoami"]);
  const whoText = `${who.stdout}\n${who.stderr}`;
  const loggedIn = who.code === 0 && !NOT_LOGGED_IN.test(whoText);
  const findings: Findings = {
    loggedIn,
    whoami: firstLine(whoText.split("\n").find((l) => /logged in|associated|email|account/i.test(l)) ?? ""),
    bucketExists: null,
    databaseId: undefined,
    pendingMigrations: null,
    missingSecrets: null,
    model,
    unchecked,
  };
  if (!loggedIn) {
    unchecked.push(
      "not logged in to Cloudflare (npx wrangler login, or CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID): could not check the R2 bucket, the D1 database, its migrations and the Worker's secrets",
    );
    return findings;
  }

  const buckets = await run([...WRANGLER, "r2", "bucket", "list"]);
  if (buckets.code === 0) {
    const names = [...stripVTControlCharacters(buckets.stdout).matchAll(/^\s*name:\s*(\S+)\s*$/gm)].map((m) => m[1]);
    findings.bucketExists = names.includes(config.bucket);
  } else unchecked.push(`R2 buckets: ${firstLine(buckets.stderr || buckets.stdout)}`);

  const databases = await run([...WRANGLER, "d1", "list", "--json"]);
  const list = databases.code === 0 ? jsonArray(databases.stdout) : null;
  if (list) {
    const db = list.find((d) => (d as { name?: unknown }).name === config.database.name) as { uuid?: string } | undefined;
    findings.databaseId = db?.uuid ?? null;
  } else unchecked.push(`D1 databases: ${firstLine(databases.stderr || databases.stdout) || "unreadable output of wrangler d1 list --json"}`);

  if (findings.databaseId === null) {
    findings.pendingMigrations = localMigrations(opts.migrationsDir ?? "worker/migrations");
  } else if (findings.databaseId) {
    const migrations = await run([...WRANGLER, "d1", "migrations", "list", config.database.name, "--remote"]);
    if (migrations.code === 0) {
      findings.pendingMigrations = /No migrations to apply/i.test(migrations.stdout)
        ? []
        : [...new Set([...stripVTControlCharacters(migrations.stdout).matchAll(/\b(\d{4}_[\w-]+\.sql)\b/g)].map((m) => m[1]))];
    } else unchecked.push(`D1 migrations: ${firstLine(migrations.stderr || migrations.stdout)}`);
  }

  const secrets = await run([...WRANGLER, "secret", "list", "--format", "json"]);
  const secretList = secrets.code === 0 ? jsonArray(secrets.stdout) : null;
  if (secretList) {
    const have = new Set(secretList.map((s) => (s as { name?: unknown }).name));
    findings.missingSecrets = REQUIRED_SECRETS.map((s) => s.name).filter((n) => !have.has(n));
  } else if (/does not exist|10007/i.test(`${secrets.stdout}${secrets.stderr}`)) {
    findings.missingSecrets = REQUIRED_SECRETS.map((s) => s.name); // not deployed yet: it has none
  } else unchecked.push(`Worker secrets: ${firstLine(secrets.stderr || secrets.stdout) || "unreadable output of wrangler secret list"}`);
  return findings;
}

/** The steps, in order, from what was found. */
export function buildPlan(config: WranglerConfig, findings: Findings, opts: PlanOptions): Plan {
  const f = findings;
  const unknown = (what: string): Pick<Step, "status" | "found"> => ({ status: "unknown", found: `could not check ${what}` });
  const steps: Step[] = [];
  steps.push({
    id: "bucket",
    title: `R2 bucket ${config.bucket}`,
    command: [...WRANGLER, "r2", "bucket", "create", config.bucket],
    ...(f.bucketExists === null ? unknown("the bucket") : f.bucketExists ? { status: "skip", found: "exists" } : { status: "run", found: "missing" }),
  });
  steps.push({
    id: "database",
    title: `D1 database ${config.database.name}`,
    command: [...WRANGLER, "d1", "create", config.database.name],
    ...(f.databaseId === undefined
      ? unknown("the database")
      : f.databaseId
        ? { status: "skip", found: `exists (${f.databaseId})` }
        : { status: "run", found: "missing" }),
  });
  const placeholder = !config.database.id || config.database.id === PLACEHOLDER_DATABASE_ID;
  steps.push({
    id: "database-id",
    title: `database_id in ${config.path}`,
    command: null,
    ...(f.databaseId === undefined
      ? {
          status: placeholder ? "run" : "unknown",
          found: placeholder ? "the placeholder id: set once the database's id is known" : `${config.database.id}; could not check it`,
        }
      : f.databaseId === null
        ? { status: "run", found: "set to the new database's id" }
        : f.databaseId === config.database.id
          ? { status: "skip", found: "matches" }
          : { status: "run", found: `${config.database.id || "none"}, the database's is ${f.databaseId}` }),
  });
  steps.push({
    id: "migrations",
    title: `D1 migrations (${opts.migrationsDir ?? "worker/migrations"}) on the remote database`,
    command: [...WRANGLER, "d1", "migrations", "apply", config.database.name, "--remote"],
    ...(f.pendingMigrations === null
      ? unknown("which are applied")
      : f.pendingMigrations.length === 0
        ? { status: "skip", found: "none pending" }
        : { status: "run", found: `pending: ${f.pendingMigrations.join(", ")}` }),
  });
  const required = REQUIRED_SECRETS.map((s) => s.name);
  steps.push({
    id: "secrets",
    title: `Worker secrets ${required.join(", ")}`,
    command: null,
    ...(f.missingSecrets === null
      ? unknown("which are set")
      : f.missingSecrets.length === 0
        ? { status: "skip", found: "all set" }
        : { status: "run", found: `missing: ${f.missingSecrets.join(", ")} (asked for, then uploaded with the deploy)` }),
  });
  const secretsFile = f.missingSecrets === null || f.missingSecrets.length > 0;
  steps.push({
    id: "deploy",
    title: `Worker ${config.worker}`,
    command: [...WRANGLER, "deploy", ...(secretsFile ? ["--secrets-file", "<temp file with the missing secrets>"] : [])],
    status: "run",
    found: "deployed every time",
  });
  steps.push({
    id: "publish",
    title: "the model in R2 (models/current.json)",
    command: ["npx", "tsx", "training/src/cli/publish.ts", "--remote", "--artifacts", opts.artifacts, ...("name" in f.model ? ["--model", f.model.name] : [])],
    status: "run",
    found: "name" in f.model ? `${f.model.name} (valid NDCG@10 ${f.model.validNdcg10.toFixed(4)}); a no-op when it is already published` : f.model.problem,
  });
  return { config, findings, steps };
}

/** The plan as printed by --dry-run (and before a deploy). */
export function formatPlan(plan: Plan): string {
  const f = plan.findings;
  const lines = [`Cloudflare account: ${f.loggedIn ? f.whoami || "logged in" : "not logged in"}`];
  for (const u of f.unchecked) lines.push(`  could not check: ${u}`);
  lines.push("");
  const mark = { run: "[will run]", skip: "[skip]", unknown: "[if needed]" } as const;
  plan.steps.forEach((s, i) => {
    lines.push(`${i + 1}. ${mark[s.status].padEnd(11)} ${s.title}: ${s.found}`);
    lines.push(
      `     ${s.command ? `$ ${shown(s.command)}` : s.id === "secrets" ? "(asked for on the terminal, or read from environment variables of the same names)" : `(edit of ${plan.config.path}: temp file, then rename)`}`,
    );
  });
  if ("problem" in f.model) lines.push("", `missing: ${f.model.problem}`);
  return lines.join("\n");
}
