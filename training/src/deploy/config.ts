// What the deploy reads from wrangler.toml (the Worker, its bucket and database), and the one
// edit it makes there: the D1 database id, written in place so that the file's comments and
// layout stay as they are, then checked by parsing the result.
import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { writeFileAtomic } from "../util/fs-atomic.ts";

/** The id wrangler.toml ships with: no database has been created for it yet. */
export const PLACEHOLDER_DATABASE_ID = "00000000-0000-0000-0000-000000000000";

export interface WranglerConfig {
  path: string;
  text: string;
  worker: string;
  bucket: string;
  database: { binding: string; name: string; id: string };
}

interface RawConfig {
  name?: unknown;
  vars?: Record<string, unknown>;
  r2_buckets?: { binding?: unknown; bucket_name?: unknown }[];
  d1_databases?: { binding?: unknown; database_name?: unknown; database_id?: unknown }[];
}

function parsed(text: string, path: string): RawConfig {
  try {
    return parse(text) as RawConfig;
  } catch (err) {
    throw new Error(`${path} is not valid TOML: ${(err as Error).message.split("\n")[0]}`);
  }
}

/** Variables of `wrangler dev` alone (worker/src/edge/latency.ts): a deploy refuses a config that sets them. */
export const DEV_ONLY_VARS = ["DEV_LATENCY", "EDGEREC_DEV"] as const;

/** The deploy's settings from wrangler.toml text; a clear error for anything missing. */
export function parseWranglerConfig(text: string, path = "wrangler.toml"): WranglerConfig {
  const raw = parsed(text, path);
  const bucket = raw.r2_buckets?.find((b) => b.binding === "MODELS")?.bucket_name;
  const db = raw.d1_databases?.find((d) => d.binding === "DB");
  if (typeof raw.name !== "string") throw new Error(`${path} has no Worker name (name = "...")`);
  if (typeof bucket !== "string") throw new Error(`${path} has no [[r2_buckets]] with binding = "MODELS" and a bucket_name`);
  if (!db || typeof db.database_name !== "string") throw new Error(`${path} has no [[d1_databases]] with binding = "DB" and a database_name`);
  // latency injection is for `wrangler dev` only (worker/src/edge/latency.ts, docs/edge.md): never deployed
  const devOnly = DEV_ONLY_VARS.filter((v) => raw.vars && v in raw.vars);
  if (devOnly.length > 0)
    throw new Error(
      `${path} sets ${devOnly.join(" and ")} under [vars]: latency injection is for local measurement under wrangler dev only (npm run bench:edge passes it with --var); remove ${devOnly.length > 1 ? "them" : "it"} before deploying`,
    );
  return {
    path,
    text,
    worker: raw.name,
    bucket,
    database: { binding: "DB", name: db.database_name, id: typeof db.database_id === "string" ? db.database_id : "" },
  };
}

export function readWranglerConfig(path = "wrangler.toml"): WranglerConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new Error(`${path} is missing: run the deploy from the project's root folder`);
  }
  return parseWranglerConfig(text, path);
}

/**
 * The text with the database_id of the [[d1_databases]] table that binds DB set to `id`: the
 * line is replaced (or added after the binding line), nothing else changes.
 */
export function withDatabaseId(config: WranglerConfig, id: string): string {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new Error(`"${id}" is not a D1 database id`);
  const lines = config.text.split("\n");
  // the line ranges of the [[d1_databases]] tables
  const blocks: { from: number; to: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const header = /^\s*\[\[?\s*([\w.]+)\s*\]\]?\s*(#.*)?$/.exec(lines[i]);
    if (!header) continue;
    const last = blocks.at(-1);
    if (last && last.to === lines.length) last.to = i;
    if (header[1] === "d1_databases") blocks.push({ from: i + 1, to: lines.length });
  }
  const inBlock = (b: { from: number; to: number }, re: RegExp): number => lines.slice(b.from, b.to).findIndex((l) => re.test(l));
  const block = blocks.find((b) => inBlock(b, /^\s*binding\s*=\s*"DB"\s*(#.*)?$/) >= 0);
  if (!block) throw new Error(`${config.path} has no [[d1_databases]] table with binding = "DB"`);
  const idLine = inBlock(block, /^\s*database_id\s*=/);
  if (idLine >= 0) lines[block.from + idLine] = lines[block.from + idLine].replace(/=\s*"[^"]*"/, `= "${id}"`);
  else lines.splice(block.from + inBlock(block, /^\s*binding\s*=/) + 1, 0, `database_id = "${id}"`);
  const text = lines.join("\n");
  // the edit is checked, not trusted: the result must parse and hold the new id
  const check = parseWranglerConfig(text, config.path);
  if (check.database.id !== id || check.database.name !== config.database.name) throw new Error(`could not set database_id in ${config.path}`);
  return text;
}

/** Writes the database id into wrangler.toml (temp file, then rename). */
export function writeDatabaseId(config: WranglerConfig, id: string): void {
  writeFileAtomic(config.path, withDatabaseId(config, id));
}
