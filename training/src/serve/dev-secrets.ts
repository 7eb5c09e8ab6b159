// The local secrets `wrangler dev` reads from .dev.vars (git-ignored), beside the API_TOKEN that
// local-setup.ts writes: USER_TOKEN_SECRET signs per-user tokens (`npm run token`). Each is
// written once, as fresh randomness, and kept afterwards: tokens already handed out stay valid.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/fs-atomic.ts";

const DEV_VARS = ".dev.vars";

/** The value of NAME in a .dev.vars text (NAME=value or NAME="value"), or undefined. */
export function devVar(text: string, name: string): string | undefined {
  const m = new RegExp(`^${name}\\s*=\\s*"?([^"\\n]*)"?\\s*$`, "m").exec(text);
  return m && m[1] !== "" ? m[1] : undefined;
}

/** NAME from .dev.vars, or undefined when the file or the line is missing. */
export function readDevVar(name: string, path = DEV_VARS): string | undefined {
  return existsSync(path) ? devVar(readFileSync(path, "utf8"), name) : undefined;
}

/** NAME in .dev.vars, appended as 32 random bytes (base64url) when the file has none; its value. */
export function ensureDevSecret(name: string, path = DEV_VARS): string {
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const existing = devVar(text, name);
  if (existing) return existing;
  const value = randomBytes(32).toString("base64url");
  const header = text ? "" : "# Local secrets for wrangler dev (git-ignored). Written by npm start.\n";
  writeFileAtomic(path, `${text}${text && !text.endsWith("\n") ? "\n" : ""}${header}${name}="${value}"\n`);
  return value;
}

/** The USER_TOKEN_SECRET of .dev.vars, written when missing. npm start calls this beside ensureDevToken. */
export function ensureUserTokenSecret(path = DEV_VARS): string {
  return ensureDevSecret("USER_TOKEN_SECRET", path);
}
