// What `wrangler dev` needs besides the published model: the local D1 created and migrated
// (worker/migrations, only when one is pending), and an API token in .dev.vars so that the write routes can be tried.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { migrateLocal } from "../publish/d1-migrations.ts";
import { writeFileAtomic } from "../util/fs-atomic.ts";

export const DEV_VARS = ".dev.vars";

/**
 * Applies the migrations the local D1 under .wrangler/state lacks (idempotent). When none is
 * pending it only reads the database file, read-only: safe while `wrangler dev` serves from it.
 * A pending one is applied with bounded retries while the file is busy. Returns what it applied.
 */
export function migrateLocalD1(binding = "DB", persistTo?: string, log?: (line: string) => void): Promise<string[]> {
  return migrateLocal({ binding, persistTo, log });
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
