// What a trained model leaves for export: the plain data every serving file is built from (its
// final embeddings, its fold-in tables and how it serves a known user), never a graph. Training
// saves it beside metrics.json; the pipeline hands it to export in memory, and `npm run export`
// reads it back, so the bundle is built in one place from the same numbers either way.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { EMBEDDINGS_FILE, FOLDIN_STATE_FILE, type FoldInKind, type RecsQuery } from "../contract/artifacts.ts";
import { type FoldIn, takesUser } from "../models/foldin.ts";
import type { Recommender } from "../models/recommender.ts";
import { writeFileAtomic } from "../util/fs-atomic.ts";

export interface Embeddings {
  users: Float32Array;
  items: Float32Array;
  dim: number;
}

export interface TrainedState {
  /** How the bundle ranks a known user: its trained vector, or the fold-in of its train history. */
  serving: "user" | "history";
  embeddings: Embeddings | null;
  foldIn: FoldIn | null;
}

/** The state of a fitted model (host copies: it outlives the model's backend memory). */
export function trainedState(model: Recommender): TrainedState {
  return { serving: model.serving ?? "user", embeddings: model.embeddings?.() ?? null, foldIn: model.foldIn?.() ?? null };
}

/**
 * What model.onnx ranks from, and the fold-in it carries: null recs means no serving graph (a
 * model with neither embeddings nor a fold-in, or one served from histories without a fold-in,
 * such as EASE on a capped catalogue).
 */
export function servingShape(state: TrainedState): { recs: RecsQuery | null; foldin: FoldInKind | null } {
  if (state.serving === "history") {
    if (!state.foldIn) return { recs: null, foldin: null };
    return { recs: takesUser(state.foldIn) ? "user+history" : "history", foldin: state.foldIn.kind };
  }
  if (!state.embeddings) return { recs: null, foldin: null };
  return { recs: "user", foldin: state.foldIn?.kind ?? null };
}

export function writeEmbeddings(dir: string, e: Embeddings): void {
  const all = new Float32Array(e.users.length + e.items.length);
  all.set(e.users);
  all.set(e.items, e.users.length);
  writeFileAtomic(join(dir, EMBEDDINGS_FILE), new Uint8Array(all.buffer));
}

export function readEmbeddings(dir: string, users: number, items: number): Embeddings {
  const path = join(dir, EMBEDDINGS_FILE);
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    throw new Error(`${path} is missing: train the model first (npm run train -- --model ...); only embedding models can be exported`);
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const dim = all.length / (users + items);
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`${path} holds ${all.length} floats, not (${users} + ${items}) x dim`);
  return { users: all.subarray(0, users * dim), items: all.subarray(users * dim), dim };
}

/** Writes the state's files into the model's folder (and removes those it has none of). */
export function writeTrainedState(dir: string, state: TrainedState): void {
  if (state.embeddings) writeEmbeddings(dir, state.embeddings);
  else rmSync(join(dir, EMBEDDINGS_FILE), { force: true });
  if (state.foldIn) writeFileAtomic(join(dir, FOLDIN_STATE_FILE), encodeTables(state.foldIn));
  else rmSync(join(dir, FOLDIN_STATE_FILE), { force: true });
}

/**
 * Reads the state training saved in `dir` for a model over `users` x `items`. `serving` and
 * whether a fold-in was saved come from its metrics.json (recs, foldin).
 */
export function readTrainedState(
  dir: string,
  shape: { users: number; items: number; recs: RecsQuery | null; foldin: FoldInKind | null },
  model: string,
): TrainedState {
  const embeddings = existsSync(join(dir, EMBEDDINGS_FILE)) ? readEmbeddings(dir, shape.users, shape.items) : null;
  let foldIn: FoldIn | null = null;
  if (shape.foldin) {
    const path = join(dir, FOLDIN_STATE_FILE);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      throw new Error(
        `${path} is missing although metrics.json says ${model} has a ${shape.foldin} fold-in: train the model again (npm run train -- --model ${model})`,
      );
    }
    foldIn = decodeTables(bytes, path) as FoldIn;
    if (foldIn.kind !== shape.foldin) throw new Error(`${path} holds a ${foldIn.kind} fold-in, metrics.json says ${shape.foldin}: train the model again`);
  }
  const serving = shape.recs === "history" || shape.recs === "user+history" ? "history" : "user";
  return { serving, embeddings, foldIn };
}

// A tree of plain data with typed arrays, as bytes: magic "TBL1", the JSON length (uint32 LE),
// the JSON (each typed array replaced by {"$array": kind, "offset", "length"}), zero padding to
// 8 bytes, then every array's bytes, each at an 8-byte aligned offset of that tail.
const TABLES_MAGIC = 0x314c4254; // "TBL1"
const ARRAYS = { f32: Float32Array, f64: Float64Array, i32: Int32Array, i8: Int8Array, u8: Uint8Array } as const;
type ArrayKind = keyof typeof ARRAYS;
type AnyArray = InstanceType<(typeof ARRAYS)[ArrayKind]>;

function arrayKind(value: unknown): ArrayKind | null {
  for (const [kind, ctor] of Object.entries(ARRAYS)) if (value instanceof ctor) return kind as ArrayKind;
  return null;
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

export function encodeTables(tree: unknown): Uint8Array {
  const arrays: AnyArray[] = [];
  let tail = 0;
  const json = JSON.stringify(tree, (_key, value: unknown) => {
    const kind = arrayKind(value);
    if (!kind) return value;
    const a = value as AnyArray;
    const ref = { $array: kind, offset: tail, length: a.length };
    arrays.push(a);
    tail = align8(tail + a.byteLength);
    return ref;
  });
  const head = new TextEncoder().encode(json);
  const start = align8(8 + head.byteLength);
  const out = new Uint8Array(start + tail);
  const view = new DataView(out.buffer);
  view.setUint32(0, TABLES_MAGIC, true);
  view.setUint32(4, head.byteLength, true);
  out.set(head, 8);
  let at = start;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += align8(a.byteLength);
  }
  return out;
}

export function decodeTables(bytes: Uint8Array, what = "tables"): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8 || view.getUint32(0, true) !== TABLES_MAGIC) throw new Error(`${what}: not a saved model state (bad magic)`);
  const length = view.getUint32(4, true);
  if (8 + length > bytes.byteLength) throw new Error(`${what}: truncated (its header says ${length} bytes of description)`);
  const start = align8(8 + length);
  // one aligned copy of the tail, which every array views (a Buffer's slice would be a view, not a copy)
  const tail = new Uint8Array(bytes.subarray(start)).buffer;
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)), (_key, value: unknown) => {
    if (typeof value !== "object" || value === null || !("$array" in value)) return value;
    const ref = value as { $array: ArrayKind; offset: number; length: number };
    const ctor = ARRAYS[ref.$array];
    if (!ctor || ref.offset + ref.length * ctor.BYTES_PER_ELEMENT > tail.byteLength) throw new Error(`${what}: an array lies outside the file`);
    return new ctor(tail, ref.offset, ref.length);
  });
}
