// What `wrangler dev` needs besides the published model: the local D1 created and migrated
// (worker/migrations), and an API token in .dev.vars so that the write routes can be tried.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { OFFLINE_WRANGLER_ENV } from "../publish/targets.ts";
import { writeFileAtomic } from "../util/fs-atomic.ts";

const run = promisify(execFile);
export const DEV_VARS = ".dev.vars";

/** Applies every unapplied migration to the local D1 under .wrangler/state (idempotent). */
export async function migrateLocalD1(binding = "DB", persistTo?: string): Promise<void> {
  try {
    const persist = persistTo ? ["--persist-to", persistTo] : [];
    await run("npx", ["wrangler", "d1", "migrations", "apply", binding, "--local", ...persist], { env: { ...process.env, ...OFFLINE_WRANGLER_ENV } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `could not migrate the local D1 (wrangler d1 migrations apply ${binding} --local): ${(e.stderr || e.stdout || e.message).trim().slice(-1500)}`,
    );
  }
}

/** The API_TOKEN in .dev.vars, written as a new random one when the file has none. */
export function ensureDevToken(path = DEV_VARS): string {
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const m = /^API_TOKEN\s*=\s*"?([^"\n]+)"?\s*$/m.exec(text);
  if (m) return m[1];
  const token = randomBytes(24).toString("base64url");
  writeFileAtomic(
    path,
    `${text}${text && !text.endsWith("\n") ? "\n" : ""}# Local secrets for wrangler dev (git-ignored). Written by npm start.\nAPI_TOKEN="${token}"\n`,
  );
  return token;
}
