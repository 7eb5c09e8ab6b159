// npm run deploy without an account: the plan built from recorded wrangler outputs (bucket
// missing, database present, ...), the plan carried out against a fake runner, the one edit of
// wrangler.toml, and the real CLI's --dry-run with no credentials.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PLACEHOLDER_DATABASE_ID, parseWranglerConfig, withDatabaseId } from "../src/deploy/config.ts";
import { carryOut } from "../src/deploy/execute.ts";
import { type Plan, buildPlan, formatPlan, inspect } from "../src/deploy/plan.ts";
import type { CommandResult, CommandRunner } from "../src/deploy/runner.ts";
import { REQUIRED_SECRETS } from "../src/deploy/secrets.ts";

const DB_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const TOML = `# the Worker
name = "edgerec"
main = "worker/src/index.ts"

[[r2_buckets]]
binding = "MODELS"
bucket_name = "edgerec-models"

# For a deploy, create the database and paste its id here
[[d1_databases]]
binding = "DB"
database_name = "edgerec"
database_id = "${PLACEHOLDER_DATABASE_ID}" # written by npm run deploy
migrations_dir = "worker/migrations"

[vars]
MODEL_REFRESH_SECONDS = "60"
`;
const config = parseWranglerConfig(TOML);

const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: "" });
const fail = (stderr: string): CommandResult => ({ code: 1, stdout: "", stderr });

const LOGGED_IN = ok("Getting User settings...\n👋 You are logged in with an OAuth Token, associated with the email dev@example.com.\n");
const NOT_LOGGED_IN = ok("Getting User settings...\nYou are not authenticated. Please run `wrangler login`.\n");
const BUCKETS = (...names: string[]) =>
  ok(`Listing buckets...\n${names.map((n) => `name:           ${n}\ncreation_date:  2026-01-01T00:00:00.000Z`).join("\n\n")}\n`);
const DATABASES = (...dbs: { name: string; uuid: string }[]) => ok(JSON.stringify(dbs.map((d) => ({ ...d, version: "production", num_tables: 2 }))));
const PENDING = (...names: string[]) =>
  ok(`Resource location: remote\nMigrations to be applied:\n┌─────┐\n│ name │\n${names.map((n) => `│ ${n} │`).join("\n")}\n└─────┘\n`);
const NONE_PENDING = ok("Resource location: remote\n✅ No migrations to apply!\n");
const SECRETS = (...names: string[]) => ok(JSON.stringify(names.map((name) => ({ name, type: "secret_text" }))));
const NO_WORKER = fail("✘ [ERROR] This Worker does not exist on your account. [code: 10007]");

/** A runner answering from a table keyed by the command's words after `npx wrangler`; records every call. */
function fakeRunner(answers: Record<string, CommandResult>): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run: CommandRunner = async (command) => {
    const key = command.slice(command[1] === "wrangler" ? 2 : 0).join(" ");
    calls.push(key);
    const hit = Object.entries(answers).find(([k]) => key.startsWith(k));
    return hit ? hit[1] : ok("");
  };
  return { run, calls };
}

function artifactsWithModel(model = "blend", ndcg = 0.25): string {
  const dir = mkdtempSync(join(tmpdir(), "edgerec-deploy-"));
  mkdirSync(join(dir, model));
  writeFileSync(join(dir, model, "metrics.json"), JSON.stringify({ model, valid: { "ndcg@10": ndcg } }));
  writeFileSync(join(dir, model, "manifest.json"), JSON.stringify({ version: `${model}-1` }));
  return dir;
}

async function planFor(answers: Record<string, CommandResult>, artifacts = artifactsWithModel()): Promise<{ plan: Plan; calls: string[] }> {
  const { run, calls } = fakeRunner(answers);
  const opts = { artifacts, migrationsDir: "worker/migrations" };
  return { plan: buildPlan(config, await inspect(run, config, opts), opts), calls };
}

const status = (plan: Plan): Record<string, string> => Object.fromEntries(plan.steps.map((s) => [s.id, s.status]));

describe("the deploy plan", () => {
  it("creates a missing bucket, keeps a present database and writes its id, applies what is pending, asks for the missing secret", async () => {
    const { plan } = await planFor({
      whoami: LOGGED_IN,
      "r2 bucket list": BUCKETS("other-bucket"),
      "d1 list --json": DATABASES({ name: "edgerec", uuid: DB_ID }),
      "d1 migrations list edgerec --remote": PENDING("0002_snapshots.sql"),
      "secret list": SECRETS("API_TOKEN"),
    });
    expect(status(plan)).toEqual({ bucket: "run", database: "skip", "database-id": "run", migrations: "run", secrets: "run", deploy: "run", publish: "run" });
    const step = (id: string) => plan.steps.find((s) => s.id === id);
    expect(step("bucket")?.command).toEqual(["npx", "wrangler", "r2", "bucket", "create", "edgerec-models"]);
    expect(step("migrations")?.found).toBe("pending: 0002_snapshots.sql");
    expect(step("secrets")?.found).toMatch(/^missing: USER_TOKEN_SECRET /);
    expect(step("deploy")?.command).toContain("--secrets-file");
    expect(step("publish")?.command).toEqual(["npx", "tsx", "training/src/cli/publish.ts", "--remote", "--artifacts", expect.any(String), "--model", "blend"]);
  });

  it("skips everything that is in place, and deploys without a secrets file", async () => {
    const { plan } = await planFor({
      whoami: LOGGED_IN,
      "r2 bucket list": BUCKETS("edgerec-models"),
      "d1 list --json": DATABASES({ name: "edgerec", uuid: DB_ID }),
      "d1 migrations list": NONE_PENDING,
      "secret list": SECRETS(...REQUIRED_SECRETS.map((s) => s.name), "OTHER"),
    });
    const inPlace = parseWranglerConfig(withDatabaseId(config, DB_ID));
    const rebuilt = buildPlan(inPlace, plan.findings, { artifacts: "artifacts" });
    expect(status(rebuilt)).toEqual({
      bucket: "skip",
      database: "skip",
      "database-id": "skip",
      migrations: "skip",
      secrets: "skip",
      deploy: "run",
      publish: "run",
    });
    expect(rebuilt.steps.find((s) => s.id === "deploy")?.command).toEqual(["npx", "wrangler", "deploy"]);
  });

  it("on a first deploy: the database is created, every local migration is pending, and a Worker not deployed yet lacks every secret", async () => {
    const { plan, calls } = await planFor({
      whoami: LOGGED_IN,
      "r2 bucket list": BUCKETS(),
      "d1 list --json": DATABASES(),
      "secret list": NO_WORKER,
    });
    expect(status(plan)).toMatchObject({ bucket: "run", database: "run", "database-id": "run", migrations: "run", secrets: "run" });
    expect(plan.findings.pendingMigrations).toEqual(expect.arrayContaining(["0001_ratings.sql", "0002_snapshots.sql"]));
    expect(plan.findings.missingSecrets).toEqual(REQUIRED_SECRETS.map((s) => s.name));
    // the remote migrations of a database that does not exist are not asked for
    expect(calls.some((c) => c.startsWith("d1 migrations"))).toBe(false);
  });

  it("without credentials checks nothing remote and says what it could not check", async () => {
    const { plan, calls } = await planFor({ whoami: NOT_LOGGED_IN });
    expect(calls).toEqual(["whoami"]);
    expect(status(plan)).toEqual({
      bucket: "unknown",
      database: "unknown",
      "database-id": "run",
      migrations: "unknown",
      secrets: "unknown",
      deploy: "run",
      publish: "run",
    });
    const text = formatPlan(plan);
    expect(text).toMatch(/not logged in.*could not check the R2 bucket, the D1 database, its migrations and the Worker's secrets/);
    expect(text).toContain("$ npx wrangler r2 bucket create edgerec-models");
    expect(text).toContain("$ npx wrangler d1 migrations apply edgerec --remote");
  });

  it("reports a check that failed instead of guessing", async () => {
    const { plan } = await planFor({
      whoami: LOGGED_IN,
      "r2 bucket list": fail("✘ [ERROR] A request to the Cloudflare API failed. Authentication error [code: 10000]"),
    });
    expect(status(plan).bucket).toBe("unknown");
    expect(plan.findings.unchecked[0]).toMatch(/^R2 buckets: A request to the Cloudflare API failed/);
  });

  it("says when there is no exported model to publish", async () => {
    const { plan } = await planFor({ whoami: NOT_LOGGED_IN }, mkdtempSync(join(tmpdir(), "edgerec-empty-")));
    expect(formatPlan(plan)).toMatch(/missing: .*holds no exported model/);
  });
});

describe("carrying out the plan", () => {
  const io = (run: CommandRunner, written: string[], secrets: Record<string, string> = {}) => ({
    run,
    log: () => {},
    secrets: async (missing: readonly string[]) => Object.fromEntries(missing.map((m) => [m, secrets[m] ?? `value-of-${m}`])),
    writeDatabaseId: (_: unknown, id: string) => void written.push(id),
  });

  it("runs the needed steps in order, writes the new database's id, and uploads the secrets with the deploy", async () => {
    const { plan } = await planFor({
      whoami: LOGGED_IN,
      "r2 bucket list": BUCKETS(),
      "d1 list --json": DATABASES(),
      "secret list": SECRETS("API_TOKEN"),
    });
    let created = false;
    const calls: string[] = [];
    let secretsAtDeploy: unknown = null;
    let secretsFile = "";
    const run: CommandRunner = async (command) => {
      const key = command.slice(2).join(" ");
      calls.push(key);
      if (key === "d1 create edgerec") created = true;
      if (key === "d1 list --json") return DATABASES(...(created ? [{ name: "edgerec", uuid: DB_ID }] : []));
      if (key.startsWith("deploy")) {
        secretsFile = command[command.indexOf("--secrets-file") + 1];
        secretsAtDeploy = JSON.parse(readFileSync(secretsFile, "utf8"));
      }
      return ok("");
    };
    const written: string[] = [];
    await carryOut(plan, io(run, written));
    expect(calls).toEqual([
      "r2 bucket create edgerec-models",
      "d1 create edgerec",
      "d1 list --json",
      "d1 migrations apply edgerec --remote",
      `deploy --secrets-file ${secretsFile}`,
      expect.stringMatching(/^training\/src\/cli\/publish\.ts --remote --artifacts .* --model blend$/),
    ]);
    expect(written).toEqual([DB_ID]);
    expect(secretsAtDeploy).toEqual({ USER_TOKEN_SECRET: "value-of-USER_TOKEN_SECRET" });
    expect(existsSync(secretsFile)).toBe(false);
  });

  it("stops at the first failing step", async () => {
    const { plan } = await planFor({
      whoami: LOGGED_IN,
      "r2 bucket list": BUCKETS(),
      "d1 list --json": DATABASES({ name: "edgerec", uuid: DB_ID }),
      "d1 migrations list": NONE_PENDING,
      "secret list": SECRETS(...REQUIRED_SECRETS.map((s) => s.name)),
    });
    const { run, calls } = fakeRunner({ "r2 bucket create": fail("bucket name taken") });
    await expect(carryOut(plan, io(run, []))).rejects.toThrow(
      /R2 bucket edgerec-models: `npx wrangler r2 bucket create edgerec-models` failed \(exit code 1\): bucket name taken/,
    );
    expect(calls).toEqual(["r2 bucket create edgerec-models"]);
  });

  it("changes nothing without credentials, after a failed check, or with no model to publish", async () => {
    const cases: { answers: Record<string, CommandResult>; error: RegExp }[] = [
      { answers: { whoami: NOT_LOGGED_IN }, error: /not logged in.*nothing was changed/ },
      { answers: { whoami: LOGGED_IN, "r2 bucket list": fail("✘ [ERROR] Authentication error") }, error: /could not check R2 buckets.*nothing was changed/ },
    ];
    for (const c of cases) {
      const { plan } = await planFor(c.answers);
      const { run, calls } = fakeRunner({});
      await expect(carryOut(plan, io(run, []))).rejects.toThrow(c.error);
      expect(calls).toEqual([]);
    }
    const { plan } = await planFor(
      {
        whoami: LOGGED_IN,
        "r2 bucket list": BUCKETS(),
        "d1 list --json": DATABASES(),
        "secret list": NO_WORKER,
      },
      mkdtempSync(join(tmpdir(), "edgerec-empty-")),
    );
    const { run, calls } = fakeRunner({});
    await expect(carryOut(plan, io(run, []))).rejects.toThrow(/nothing to publish.*nothing was changed/);
    expect(calls).toEqual([]);
  });
});

describe("the database id in wrangler.toml", () => {
  it("replaces the id and keeps every comment and line", () => {
    const text = withDatabaseId(config, DB_ID);
    expect(text).toBe(TOML.replace(PLACEHOLDER_DATABASE_ID, DB_ID));
    expect(parseWranglerConfig(text).database.id).toBe(DB_ID);
  });

  it("adds the id when the table has none, whatever the order of its keys", () => {
    const without = TOML.replace(/^database_id.*\n/m, "").replace('binding = "DB"\ndatabase_name = "edgerec"', 'database_name = "edgerec"\nbinding = "DB"');
    const text = withDatabaseId(parseWranglerConfig(without), DB_ID);
    expect(parseWranglerConfig(text).database).toEqual({ binding: "DB", name: "edgerec", id: DB_ID });
    expect(text).toContain("# For a deploy, create the database and paste its id here");
  });

  it("refuses what is not a database id", () => {
    expect(() => withDatabaseId(config, "x; rm -rf")).toThrow(/is not a D1 database id/);
  });

  it("names what wrangler.toml lacks", () => {
    expect(() => parseWranglerConfig('name = "w"\n')).toThrow(/no \[\[r2_buckets\]\] with binding = "MODELS"/);
    expect(() => parseWranglerConfig("name = \n")).toThrow(/is not valid TOML/);
  });

  it("refuses a config that turns on wrangler dev's latency injection (docs/edge.md)", () => {
    expect(() => parseWranglerConfig(`${TOML}DEV_LATENCY = "d1_primary_ms=100"\n`)).toThrow(/sets DEV_LATENCY under \[vars\].*remove it before deploying/);
    expect(() => parseWranglerConfig(`${TOML}EDGEREC_DEV = "wrangler-dev"\n`)).toThrow(/sets EDGEREC_DEV under \[vars\]/);
  });
});

describe("npm run deploy -- --dry-run", () => {
  it("runs with no credentials, exits 0 and prints the plan", () => {
    const env: Record<string, string> = { ...(process.env as Record<string, string>), XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), "edgerec-noauth-")) };
    for (const k of ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_ACCOUNT_ID"]) delete env[k];
    const cli = join(import.meta.dirname, "../src/cli/deploy.ts");
    const r = spawnSync(process.execPath, ["--import", "tsx", cli, "--dry-run", "--artifacts", artifactsWithModel("ease", 0.23)], {
      encoding: "utf8",
      env: { ...env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
      timeout: 60_000,
    });
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Deploy plan (dry run: nothing is changed)");
    expect(r.stdout).toMatch(/Cloudflare account: not logged in/);
    for (const command of [
      "npx wrangler r2 bucket create edgerec-models",
      "npx wrangler d1 create edgerec",
      "npx wrangler d1 migrations apply edgerec --remote",
      "npx wrangler deploy",
    ]) {
      expect(r.stdout).toContain(`$ ${command}`);
    }
    expect(r.stdout).toMatch(/the model in R2 \(models\/current\.json\): ease \(valid NDCG@10 0\.2300\)/);
  });
});
