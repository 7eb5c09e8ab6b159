// What a bundle's files must say to be served, beyond their checksums: a bundle whose bytes
// match its manifest can still be empty or inconsistent (a movies.json of [] was served, and every
// request then failed). One check, pure, run by publish (which refuses the bundle, uploading
// nothing) and by the Worker's load (which then serves the previous good version): a non-empty
// catalogue, ids unique and the same across files, counts matching the manifest, and graphs whose
// inputs and tables fit the catalogue and whose structure ONNX Runtime accepts (graph-check.ts: a
// graph ORT refuses costs the isolate wasm memory it never gets back).
import {
  BECAUSE_GRAPH,
  BUNDLE_FILES,
  type BundleFileKey,
  FOLDIN_GRAPH,
  type IdMaps,
  type Manifest,
  type MovieMeta,
  RECS_GRAPH,
  SIMILAR_GRAPH,
  USER_RECORD,
  VECTOR_GRAPH,
  decodeInt8Table,
  decodeRated,
  perUserOutside,
  recsTakesHistory,
  recsTakesUser,
} from "./artifacts.ts";
import { graphProblems } from "./graph-check.ts";
import { onnxSummary } from "./onnx-summary.ts";

/** A bundle's file bytes by key; a file absent here (left in R2 or D1, or not fetched) is not checked. */
export type BundleFileBytes = Partial<Record<BundleFileKey, Uint8Array | ArrayBuffer>>;

/** movies.json and ids.json already parsed (the Worker parses them once, for serving). */
export interface ParsedCatalogue {
  movies: unknown;
  ids: unknown;
}

const MAX_LISTED = 5;

/** An ArrayBuffer holding exactly the bytes (typed-array views need one, aligned). */
function ownBuffer(bytes: Uint8Array | ArrayBuffer): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) return bytes;
  // a copy (a Node Buffer's slice() is a view into a shared pool: its .buffer is the pool)
  return new Uint8Array(bytes).buffer as ArrayBuffer;
}

function parseJson(bytes: Uint8Array | ArrayBuffer | undefined, name: string, problems: string[]): unknown {
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    problems.push(`${name} is not valid JSON`);
    return undefined;
  }
}

/** The values that occur more than once (the first few). */
function duplicates(values: readonly number[]): number[] {
  const seen = new Set<number>();
  const twice = new Set<number>();
  for (const v of values) (seen.has(v) ? twice : seen).add(v);
  return [...twice].slice(0, MAX_LISTED);
}

const isIdList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isInteger(x));

function checkCatalogue(manifest: Manifest, movies: unknown, ids: unknown, problems: string[]): void {
  const { items, users } = manifest;
  if (!Number.isInteger(items) || items <= 0) problems.push(`manifest.json says ${items} items: a served catalogue has at least one`);
  if (movies !== undefined) {
    if (!Array.isArray(movies)) problems.push(`${BUNDLE_FILES.movies} is not a list of movies`);
    else {
      if (movies.length === 0) problems.push(`${BUNDLE_FILES.movies} is empty: the catalogue has no movies`);
      else if (movies.length !== items) problems.push(`${BUNDLE_FILES.movies} lists ${movies.length} movies, manifest.json says ${items} items`);
      const malformed = movies.findIndex((m: Partial<MovieMeta> | null) => !m || !Number.isInteger(m.movieId) || typeof m.title !== "string");
      if (malformed >= 0) problems.push(`${BUNDLE_FILES.movies}: entry ${malformed} has no integer movieId or no title`);
      else {
        const twice = duplicates(movies.map((m: MovieMeta) => m.movieId));
        if (twice.length > 0) problems.push(`${BUNDLE_FILES.movies} lists movie ids more than once: ${twice.join(", ")}`);
      }
    }
  }
  if (ids === undefined) return;
  const maps = ids as Partial<IdMaps> | null;
  if (!maps || !isIdList(maps.items) || !isIdList(maps.users)) {
    problems.push(`${BUNDLE_FILES.ids} must hold two lists of integer ids, users and items`);
    return;
  }
  if (maps.items.length !== items) problems.push(`${BUNDLE_FILES.ids} maps ${maps.items.length} items, manifest.json says ${items}`);
  // with per-user data outside the isolate users.bin maps the users, and ids.json lists none
  const expectedUsers = perUserOutside(manifest.per_user) ? [0, users] : [users];
  if (!expectedUsers.includes(maps.users.length)) problems.push(`${BUNDLE_FILES.ids} maps ${maps.users.length} users, manifest.json says ${users}`);
  for (const [what, list] of [
    ["item", maps.items],
    ["user", maps.users],
  ] as const) {
    const twice = duplicates(list);
    if (twice.length > 0) problems.push(`${BUNDLE_FILES.ids} maps ${what} ids more than once: ${twice.join(", ")}`);
  }
  if (Array.isArray(movies) && movies.length === maps.items.length) {
    const differs = movies.findIndex((m: Partial<MovieMeta> | null, i) => m?.movieId !== maps.items![i]);
    if (differs >= 0)
      problems.push(
        `${BUNDLE_FILES.movies} and ${BUNDLE_FILES.ids} disagree: item ${differs} is movie ${(movies[differs] as Partial<MovieMeta> | null)?.movieId} in one and ${maps.items[differs]} in the other`,
      );
  }
}

function largest(values: ArrayLike<number>): number {
  let max = -1;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  return max;
}

function checkTables(manifest: Manifest, files: BundleFileBytes, problems: string[]): void {
  const { items, users } = manifest;
  for (const key of ["rated", "history"] as const) {
    const bytes = files[key];
    if (!bytes) continue;
    try {
      const csr = decodeRated(ownBuffer(bytes));
      if (csr.users !== users || csr.items !== items)
        problems.push(`${BUNDLE_FILES[key]} has ${csr.users} users x ${csr.items} items, manifest.json says ${users} x ${items}`);
      else if (largest(csr.indices) >= items) problems.push(`${BUNDLE_FILES[key]} names items past the catalogue's ${items}`);
    } catch (e) {
      problems.push(`${BUNDLE_FILES[key]}: ${(e as Error).message}`);
    }
  }
  for (const key of ["candidates", "normalized"] as const) {
    const bytes = files[key];
    if (!bytes) continue;
    try {
      const t = decodeInt8Table(ownBuffer(bytes));
      if (t.rows !== items || t.dim !== manifest.dim)
        problems.push(`${BUNDLE_FILES[key]} is ${t.rows} rows of ${t.dim}, manifest.json says ${items} items of ${manifest.dim}`);
    } catch (e) {
      problems.push(`${BUNDLE_FILES[key]}: ${(e as Error).message}`);
    }
  }
  const popularity = files.popularity;
  if (popularity && popularity.byteLength !== 4 * items)
    problems.push(`${BUNDLE_FILES.popularity} has ${popularity.byteLength} bytes, ${4 * items} for ${items} items`);
  const usersBin = files.users;
  if (usersBin) {
    const view = new DataView(ownBuffer(usersBin));
    const maxId = usersBin.byteLength >= USER_RECORD.header ? view.getUint32(4, true) : -1;
    if (maxId < 0 || usersBin.byteLength !== USER_RECORD.header + (maxId + 1) * USER_RECORD.bytes)
      problems.push(`${BUNDLE_FILES.users} is not a users file (${usersBin.byteLength} bytes)`);
    else if (manifest.max_user_id !== undefined && maxId !== manifest.max_user_id)
      problems.push(`${BUNDLE_FILES.users} ends at user ${maxId}, manifest.json says ${manifest.max_user_id}`);
  }
}

type GraphFile = "model" | "foldin" | "similar" | "because" | "vector";

/** The inputs each graph must take (what the Worker feeds it), from the artifact contract. */
function requiredInputs(manifest: Manifest): Record<GraphFile, string[]> {
  const recs = manifest.recs ?? "user";
  const model: string[] = [RECS_GRAPH.inputs.k, RECS_GRAPH.inputs.exclude];
  if (recsTakesUser(recs)) model.push(RECS_GRAPH.inputs.query);
  if (recsTakesHistory(recs)) model.push(RECS_GRAPH.inputs.history);
  return {
    model,
    foldin: Object.values(FOLDIN_GRAPH.inputs),
    similar: Object.values(SIMILAR_GRAPH.inputs),
    because: Object.values(BECAUSE_GRAPH.inputs),
    vector: Object.values(VECTOR_GRAPH.inputs),
  };
}

/**
 * Every graph takes the inputs the Worker feeds it, and its tables fit the bundle: each
 * two-dimensional table spans items, users or the embedding size on both axes, and at least
 * one spans the catalogue (a graph exported for another catalogue has none that does).
 */
function checkGraphs(manifest: Manifest, files: BundleFileBytes, problems: string[]): void {
  const inputs = requiredInputs(manifest);
  // the model's own movies come first in the catalogue (model_items); the rest are scored by the
  // fallback appended in the graph, over tables of their own
  const modelItems = manifest.model_items ?? manifest.items;
  const fits = new Set([manifest.items, modelItems, manifest.items - modelItems, manifest.users, manifest.dim]);
  for (const key of Object.keys(inputs) as GraphFile[]) {
    const bytes = files[key];
    if (!bytes) continue;
    const name = BUNDLE_FILES[key];
    let summary: ReturnType<typeof onnxSummary>;
    try {
      summary = onnxSummary(bytes);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    for (const problem of graphProblems(summary)) problems.push(`${name} ${problem}`);
    const missing = inputs[key].filter((input) => !summary.inputs.has(input));
    if (missing.length > 0) problems.push(`${name} lacks the input${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
    const all = [...summary.initializers].filter(([, dims]) => dims.length === 2);
    // the fallback's tables hold a row per movie outside the model (its neighbours, their weights)
    const fallback = all.filter(([table]) => table.startsWith("fallback_"));
    const wrongFallback = fallback.find(([, dims]) => dims[0] !== manifest.items - modelItems);
    if (wrongFallback)
      problems.push(
        `${name}: table ${wrongFallback[0]} is ${wrongFallback[1].join(" x ")}, which does not hold a row for each of the ${manifest.items - modelItems} movies outside the model`,
      );
    const tables = all.filter(([table]) => !table.startsWith("fallback_"));
    const misfit = tables.find(([, dims]) => dims.some((d) => !fits.has(d)));
    if (misfit)
      problems.push(
        `${name}: table ${misfit[0]} is ${misfit[1].join(" x ")}, which fits neither ${manifest.items} items, ${manifest.users} users nor dimension ${manifest.dim}`,
      );
    else if (tables.length > 0 && !tables.some(([, dims]) => dims.includes(manifest.items) || dims.includes(modelItems)))
      problems.push(`${name}: no table spans the catalogue's ${modelItems} items`);
  }
}

/**
 * What is wrong with a bundle's content, each problem a sentence naming the file (empty: nothing).
 * Checks the files given; `parsed` spares parsing movies.json and ids.json again.
 */
export function contentProblems(manifest: Manifest, files: BundleFileBytes, parsed?: ParsedCatalogue): string[] {
  const problems: string[] = [];
  const movies = parsed ? parsed.movies : parseJson(files.movies, BUNDLE_FILES.movies, problems);
  const ids = parsed ? parsed.ids : parseJson(files.ids, BUNDLE_FILES.ids, problems);
  checkCatalogue(manifest, movies, ids, problems);
  checkTables(manifest, files, problems);
  checkGraphs(manifest, files, problems);
  return problems;
}

/** The problems as one message (the first few, and how many more). */
export function describeProblems(version: string, problems: string[]): string {
  const shown = problems.slice(0, MAX_LISTED).join("; ");
  const more = problems.length > MAX_LISTED ? `; and ${problems.length - MAX_LISTED} more` : "";
  return `${version} is not a servable bundle: ${shown}${more}`;
}
