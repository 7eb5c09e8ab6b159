// The GPU backend: GraphBackend over WGSL compute shaders through WebGPU (Dawn in Node).
// Tensors are GPU storage buffers and stay there across steps; ops are recorded into one
// command encoder and submitted together when the host next needs the queue (a write, a
// download, `settle`), so a training step costs one submit. Only downloads (losses, metrics'
// top-K lists, checkpoints) come back to the host.
import {
  type AdamSettings,
  type GraphBackend,
  type LossSums,
  type NgcfKernels,
  type Propagation,
  type SparseRows,
  type Tensor,
  type TensorKind,
  type Triples,
  checkSizes,
} from "../backend.ts";
import { type GpuDevice, requestGpu, webgpuGlobals } from "./device.ts";
import {
  ADAM,
  BPR_COEF,
  BPR_GATHER,
  L2_GATHER,
  L2_SQUARES,
  MASK,
  REDUCE,
  SCALE,
  SCORES,
  WORKGROUP,
  propagateChunksShader,
  propagateRowsShader,
  topKShader,
} from "./shaders.ts";

const { GPUBufferUsage: Usage, GPUMapMode: MapMode } = webgpuGlobals;
const STORAGE = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;
/** Most users scored at once in evaluation (the score buffer is users x items floats). */
const MAX_SCORE_BATCH = 1024;
/** The largest k that topK selects on the GPU (each invocation keeps k candidates in registers). */
export const MAX_TOP_K = 128;
/** Dispatches recorded between two submits share one uniform buffer, a 256-byte slot each. */
const UNIFORM_SLOT_BYTES = 256;
const UNIFORM_SLOTS = 512;

let nextTensorId = 1;

class GpuTensor implements Tensor {
  /** Names the buffer in bind-group cache keys. */
  readonly id = nextTensorId++;

  constructor(
    readonly buffer: GPUBuffer,
    readonly kind: TensorKind,
    readonly length: number,
  ) {}
}

/**
 * A square matrix cut into chunks of at most `chunk` nonzeros (a row's chunks are contiguous):
 * chunkStart[k] is chunk k's first nonzero, rowChunks[r]..rowChunks[r + 1] row r's chunks.
 */
class GpuPropagation implements Propagation {
  /** Per-chunk partial sums, grown to the widest propagation seen. */
  partial: GpuTensor | null = null;

  constructor(
    readonly rows: number,
    readonly chunks: number,
    readonly chunkStart: GpuTensor,
    readonly rowChunks: GpuTensor,
    readonly indices: GpuTensor,
    readonly values: GpuTensor,
  ) {}
}

/**
 * Chunk length for a matrix whose longest row has `maxRow` nonzeros: about its square root (at
 * least 64), so neither pass loops much longer than the other.
 */
export function chunkLength(maxRow: number): number {
  return Math.max(64, Math.ceil(Math.sqrt(maxRow)));
}

/** Cuts every row of a CSR matrix into chunks of at most `chunk` nonzeros (empty rows get none). */
export function cutIntoChunks(indptr: Int32Array, rows: number, chunk: number): { chunkStart: Int32Array; rowChunks: Int32Array } {
  const rowChunks = new Int32Array(rows + 1);
  for (let r = 0; r < rows; r++) rowChunks[r + 1] = rowChunks[r] + Math.ceil((indptr[r + 1] - indptr[r]) / chunk);
  const chunkStart = new Int32Array(rowChunks[rows] + 1);
  for (let r = 0; r < rows; r++) {
    for (let k = rowChunks[r], q = indptr[r]; k < rowChunks[r + 1]; k++, q += chunk) chunkStart[k] = q;
  }
  chunkStart[rowChunks[rows]] = indptr[rows];
  // a chunk ends where the next begins: the last chunk of a row ends at the row's end
  for (let r = 0; r < rows; r++) if (rowChunks[r + 1] > rowChunks[r]) chunkStart[rowChunks[r + 1]] = indptr[r + 1];
  return { chunkStart, rowChunks };
}

/**
 * A batch of triples and, built on the host, the rows they touch sorted by row: `uniq` holds
 * each node once, entries[start[r]..start[r+1]] the 3 t + role entries naming node uniq[r].
 * Gradients are then gathered per row, so no two invocations write the same value.
 */
class GpuTriples implements Triples {
  count = 0;
  rows = 0;
  readonly users: GpuTensor;
  readonly pos: GpuTensor;
  readonly neg: GpuTensor;
  readonly uniq: GpuTensor;
  readonly start: GpuTensor;
  readonly entries: GpuTensor;
  readonly coef: GpuTensor;
  readonly perTriple: GpuTensor;
  // host scratch for the sort by row
  private readonly hostUniq: Int32Array;
  private readonly hostStart: Int32Array;
  private readonly hostEntries: Int32Array;
  private stamp = new Int32Array(0);
  private slot = new Int32Array(0);
  private epoch = 0;

  constructor(
    backend: WebGpuBackend,
    readonly capacity: number,
  ) {
    const entries = 3 * capacity;
    this.users = backend.zeros("i32", capacity) as GpuTensor;
    this.pos = backend.zeros("i32", capacity) as GpuTensor;
    this.neg = backend.zeros("i32", capacity) as GpuTensor;
    this.uniq = backend.zeros("i32", entries) as GpuTensor;
    this.start = backend.zeros("i32", entries + 1) as GpuTensor;
    this.entries = backend.zeros("i32", entries) as GpuTensor;
    this.coef = backend.zeros("f32", capacity) as GpuTensor;
    this.perTriple = backend.zeros("f32", capacity) as GpuTensor;
    this.hostUniq = new Int32Array(entries);
    this.hostStart = new Int32Array(entries + 1);
    this.hostEntries = new Int32Array(entries);
  }

  /** Counting sort of the batch's 3 * count row references by row (rows in first-seen order). */
  sortByRow(users: Int32Array, pos: Int32Array, neg: Int32Array, count: number): { uniq: Int32Array; start: Int32Array; entries: Int32Array } {
    let maxNode = 0;
    for (let t = 0; t < count; t++) maxNode = Math.max(maxNode, users[t], pos[t], neg[t]);
    if (maxNode >= this.stamp.length) {
      this.stamp = new Int32Array(Math.max(maxNode + 1, this.stamp.length * 2));
      this.slot = new Int32Array(this.stamp.length);
      this.epoch = 0;
    }
    const epoch = ++this.epoch;
    const { stamp, slot, hostUniq: uniq, hostStart: start, hostEntries: entries } = this;
    const lists = [users, pos, neg];
    let rows = 0;
    start.fill(0, 0, 3 * count + 1);
    for (let t = 0; t < count; t++) {
      for (let role = 0; role < 3; role++) {
        const node = lists[role][t];
        if (stamp[node] !== epoch) {
          stamp[node] = epoch;
          slot[node] = rows;
          uniq[rows++] = node;
        }
        start[slot[node] + 1]++;
      }
    }
    for (let r = 0; r < rows; r++) start[r + 1] += start[r];
    const fill = start.slice(0, rows);
    for (let t = 0; t < count; t++) {
      for (let role = 0; role < 3; role++) entries[fill[slot[lists[role][t]]]++] = 3 * t + role;
    }
    this.rows = rows;
    return { uniq: uniq.subarray(0, rows), start: start.subarray(0, rows + 1), entries: entries.subarray(0, 3 * count) };
  }
}

export class WebGpuBackend implements GraphBackend {
  readonly kind = "webgpu" as const;
  private readonly device: GPUDevice;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly owned: GpuTensor[] = [];
  /** Buffers that outlive scopes (propagations' partial sums), destroyed on close. */
  private readonly unscoped: GPUBuffer[] = [];
  private encoder: GPUCommandEncoder | null = null;
  /** The compute pass consecutive dispatches share (ended by a copy, a clear or a submit). */
  private pass: GPUComputePassEncoder | null = null;
  /**
   * Every dispatch's parameters, one slot each, written to `uniforms` just before the submit.
   * A training step records the same dispatches in the same order every time, so the bind
   * groups (pipeline, slot, buffers) repeat and are created once.
   */
  private readonly uniforms: GPUBuffer;
  private readonly uniformData = new ArrayBuffer(UNIFORM_SLOT_BYTES * UNIFORM_SLOTS);
  private readonly uniformU32 = new Uint32Array(this.uniformData);
  private readonly uniformF32 = new Float32Array(this.uniformData);
  private slots = 0;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** Epoch sums: [0] BPR loss, [1] squared norms (f32 on the GPU). */
  private readonly sums: GpuTensor;
  private readonly dummies: [GpuTensor, GpuTensor];
  private error: GPUError | null = null;

  private constructor(private readonly gpu: GpuDevice) {
    this.device = gpu.device;
    this.device.onuncapturederror = (e) => {
      this.error ??= e.error;
    };
    this.sums = this.zeros("f32", 2) as GpuTensor;
    // 16 bytes: they stand in for vec4 arrays too
    this.dummies = [this.zeros("f32", 4) as GpuTensor, this.zeros("f32", 4) as GpuTensor];
    this.uniforms = this.device.createBuffer({ size: this.uniformData.byteLength, usage: Usage.UNIFORM | Usage.COPY_DST });
  }

  /** The GPU Dawn finds (see device.ts for what is needed when there is none). */
  static async create(): Promise<WebGpuBackend> {
    return new WebGpuBackend(await requestGpu());
  }

  get description(): string {
    return `WebGPU on ${this.gpu.adapter}${this.gpu.software ? " (a software renderer: for correctness, not speed)" : ""}`;
  }

  private buffer(bytes: number): GPUBuffer {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new RangeError(
        `a GPU tensor of ${bytes.toLocaleString("en-US")} bytes exceeds the storage binding limit of ${this.gpu.adapter} (${limit.toLocaleString("en-US")} bytes): train this graph with --device cpu, or on a GPU that allows larger bindings`,
      );
    }
    return this.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: STORAGE });
  }

  private tensor(t: Tensor): GpuTensor {
    if (!(t instanceof GpuTensor)) throw new TypeError("tensor was not made by the GPU backend");
    return t;
  }

  private gpuTriples(t: Triples): GpuTriples {
    if (!(t instanceof GpuTriples)) throw new TypeError("triples were not made by the GPU backend");
    return t;
  }

  zeros(kind: TensorKind, length: number): Tensor {
    if (kind === "f64") throw new RangeError("the GPU backend has no float64 tensors (WGSL has no f64)");
    const t = new GpuTensor(this.buffer(length * 4), kind, length);
    this.owned.push(t);
    return t;
  }

  upload(data: Float32Array | Int32Array): Tensor {
    const t = this.zeros(data instanceof Int32Array ? "i32" : "f32", data.length);
    this.write(t, data);
    return t;
  }

  write(t: Tensor, data: Float32Array | Int32Array): void {
    if (data.length !== t.length) throw new RangeError(`write: ${data.length} values into a tensor of ${t.length}`);
    this.writeAt(this.tensor(t).buffer, data);
  }

  /** Queue writes land before every later submit, so recorded ops go first. */
  private writeAt(buffer: GPUBuffer, data: Float32Array | Int32Array): void {
    if (data.length === 0) return;
    this.flush();
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  async download(t: Tensor): Promise<Float32Array> {
    const g = this.tensor(t);
    const bytes = Math.max(4, g.length * 4);
    const staging = this.device.createBuffer({ size: bytes, usage: Usage.MAP_READ | Usage.COPY_DST });
    this.commands().copyBufferToBuffer(g.buffer, 0, staging, 0, bytes);
    this.flush();
    await staging.mapAsync(MapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0, g.length * 4));
    staging.unmap();
    staging.destroy();
    this.throwIfFailed();
    return out;
  }

  private async downloadInts(buffer: GPUBuffer, length: number): Promise<Int32Array> {
    const staging = this.device.createBuffer({ size: Math.max(4, length * 4), usage: Usage.MAP_READ | Usage.COPY_DST });
    this.commands().copyBufferToBuffer(buffer, 0, staging, 0, length * 4);
    this.flush();
    await staging.mapAsync(MapMode.READ);
    const out = new Int32Array(staging.getMappedRange().slice(0, length * 4));
    staging.unmap();
    staging.destroy();
    this.throwIfFailed();
    return out;
  }

  async settle(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed();
  }

  openScope(): () => void {
    const mark = this.owned.length;
    return () => {
      if (this.owned.length < mark) throw new Error("GPU scopes closed out of order");
      this.flush();
      for (const t of this.owned.splice(mark)) t.buffer.destroy();
      // cached bind groups may name the freed buffers
      this.bindGroups.clear();
    };
  }

  copy(src: Tensor, dst: Tensor): void {
    if (src.length !== dst.length) throw new RangeError(`copy: ${src.length} values into a tensor of ${dst.length}`);
    if (src.length > 0) this.commands().copyBufferToBuffer(this.tensor(src).buffer, 0, this.tensor(dst).buffer, 0, src.length * 4);
  }

  fill(t: Tensor, value: number): void {
    if (value !== 0) throw new RangeError("the GPU backend fills with zeros only");
    if (t.length > 0) this.commands().clearBuffer(this.tensor(t).buffer, 0, Math.ceil((t.length * 4) / 4) * 4);
  }

  scale(t: Tensor, factor: number): void {
    this.run("scale", SCALE, [t.length, factor], "uf", [t], t.length);
  }

  propagation(a: SparseRows & { values: Float32Array }, _dim: number, _groups: readonly number[]): Propagation {
    if (a.rows !== a.cols) throw new RangeError(`propagation needs a square matrix, got ${a.rows} x ${a.cols}`);
    let maxRow = 0;
    for (let r = 0; r < a.rows; r++) maxRow = Math.max(maxRow, a.indptr[r + 1] - a.indptr[r]);
    const { chunkStart, rowChunks } = cutIntoChunks(a.indptr, a.rows, chunkLength(maxRow));
    const up = (x: Float32Array | Int32Array): GpuTensor => this.upload(x) as GpuTensor;
    return new GpuPropagation(a.rows, rowChunks[a.rows], up(chunkStart), up(rowChunks), up(a.indices), up(a.values));
  }

  propagate(a: Propagation, src: Tensor, dst: Tensor | null, acc: Tensor | null, d: number): void {
    if (!(a instanceof GpuPropagation)) throw new TypeError("propagation was not prepared by the GPU backend");
    checkSizes("propagate", a.rows * d, { src, dst, acc });
    if (!dst && !acc) return;
    const width = d % 4 === 0 ? 4 : 1;
    const groups = d / width;
    if (!a.partial || a.partial.length < a.chunks * d) {
      // grown outside any scope the caller has open: it lives as long as the propagation
      a.partial = new GpuTensor(this.buffer(Math.max(16, a.chunks * d * 4)), "f32", a.chunks * d);
      this.unscoped.push(a.partial.buffer);
    }
    this.run(
      `propagateChunks${width}`,
      propagateChunksShader(width),
      [a.chunks, groups],
      "uu",
      [a.chunkStart, a.indices, a.values, src, a.partial],
      a.chunks * groups,
    );
    const bindings = [a.rowChunks, a.partial, dst ?? this.dummies[0], acc ?? this.dummies[1]];
    this.run(`propagateRows${width}`, propagateRowsShader(width), [a.rows, groups, dst ? 1 : 0, acc ? 1 : 0], "uuuu", bindings, a.rows * groups);
  }

  triples(capacity: number): Triples {
    return new GpuTriples(this, capacity);
  }

  setTriples(t: Triples, users: Int32Array, pos: Int32Array, neg: Int32Array, count: number): void {
    const b = this.gpuTriples(t);
    if (count > b.capacity) throw new RangeError(`${count} triples into a batch of ${b.capacity}`);
    const sorted = b.sortByRow(users, pos, neg, count);
    this.writeAt(b.users.buffer, users.subarray(0, count));
    this.writeAt(b.pos.buffer, pos.subarray(0, count));
    this.writeAt(b.neg.buffer, neg.subarray(0, count));
    this.writeAt(b.uniq.buffer, sorted.uniq);
    this.writeAt(b.start.buffer, sorted.start);
    this.writeAt(b.entries.buffer, sorted.entries);
    b.count = count;
  }

  bprGrad(t: Triples, emb: Tensor, embScale: number, grad: Tensor, d: number): void {
    const b = this.gpuTriples(t);
    if (b.count === 0) return;
    this.run("bprCoef", BPR_COEF, [b.count, d, embScale, 1 / b.count], "uuff", [b.users, b.pos, b.neg, emb, b.coef, b.perTriple], b.count);
    this.run("reduce", REDUCE, [b.count, 0], "uu", [b.perTriple, this.sums], 0);
    this.run("bprGather", BPR_GATHER, [b.rows, d], "uu", [b.uniq, b.start, b.entries, b.users, b.pos, b.neg, b.coef, emb, grad], b.rows * d);
  }

  l2Grad(t: Triples, param: Tensor, grad: Tensor, d: number, coef: number): void {
    const b = this.gpuTriples(t);
    if (b.count === 0) return;
    this.run("l2Squares", L2_SQUARES, [b.count, d], "uu", [b.users, b.pos, b.neg, param, b.perTriple], b.count);
    this.run("reduce", REDUCE, [b.count, 1], "uu", [b.perTriple, this.sums], 0);
    this.run("l2Gather", L2_GATHER, [b.rows, d, coef, 0], "uufu", [b.uniq, b.start, param, grad], b.rows * d);
  }

  async takeLosses(): Promise<LossSums> {
    const [bpr, squaredNorms] = await this.download(this.sums);
    this.fill(this.sums, 0);
    return { bpr, squaredNorms };
  }

  adam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: number, gradScale: number, s: AdamSettings): void {
    const bc1 = 1 - s.beta1 ** step;
    const bc2 = 1 - s.beta2 ** step;
    this.run("adam", ADAM, [param.length, gradScale, s.lr, s.beta1, s.beta2, s.eps, bc1, bc2], "uffffffff", [param, grad, m, v], param.length);
  }

  async topK(emb: Tensor, d: number, itemFrom: number, items: number, users: Int32Array, exclude: SparseRows, k: number): Promise<Int32Array> {
    if (exclude.rows !== users.length) throw new RangeError(`topK: ${exclude.rows} exclude rows for ${users.length} users`);
    if (!Number.isInteger(k) || k < 1 || k > MAX_TOP_K) throw new RangeError(`topK: k must be 1..${MAX_TOP_K} on the GPU, got ${k}`);
    const out = new Int32Array(users.length * k);
    if (users.length === 0) return out;
    const limit = this.device.limits.maxStorageBufferBindingSize;
    const batch = Math.max(1, Math.min(MAX_SCORE_BATCH, users.length, Math.floor(limit / (items * 4))));
    const close = this.openScope();
    try {
      const scores = this.zeros("f32", batch * items);
      const ranked = this.zeros("i32", batch * k) as GpuTensor;
      const userIds = this.zeros("i32", batch) as GpuTensor;
      for (let b0 = 0; b0 < users.length; b0 += batch) {
        const n = Math.min(batch, users.length - b0);
        const base = exclude.indptr[b0];
        const indptr = Int32Array.from(exclude.indptr.subarray(b0, b0 + n + 1), (p) => p - base);
        const indices = exclude.indices.subarray(base, exclude.indptr[b0 + n]);
        const close2 = this.openScope();
        const maskRows = this.upload(indptr);
        const maskItems = this.upload(indices.length > 0 ? indices : new Int32Array(1));
        this.writeAt(userIds.buffer, users.subarray(b0, b0 + n));
        this.run("scores", SCORES, [n, items, d, itemFrom], "uuuu", [userIds, emb, scores], n * items);
        this.run("mask", MASK, [n, items], "uu", [maskRows, maskItems, scores], n);
        this.run(`topK${k}`, topKShader(k), [items], "u", [scores, ranked], 0, n);
        out.set(await this.downloadInts(ranked.buffer, n * k), b0 * k);
        close2();
      }
    } finally {
      close();
    }
    return out;
  }

  ngcfKernels(): NgcfKernels {
    throw new Error("NGCF's layer kernels are not on this device (WebGPU): train ngcf with --device cpu");
  }

  async close(): Promise<void> {
    this.flush();
    for (const t of this.owned.splice(0)) t.buffer.destroy();
    for (const b of this.unscoped.splice(0)) b.destroy();
    this.device.destroy();
  }

  private record(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /** The encoder, outside any compute pass (for copies and clears). */
  private commands(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = null;
    return this.record();
  }

  /** Submits every recorded op, after writing their parameters. */
  private flush(): void {
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = null;
    if (this.slots > 0) this.device.queue.writeBuffer(this.uniforms, 0, this.uniformData, 0, this.slots * UNIFORM_SLOT_BYTES);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.slots = 0;
  }

  private throwIfFailed(): void {
    if (this.error) throw new Error(`WebGPU error: ${this.error.message}`);
  }

  private pipeline(name: string, code: string): GPUComputePipeline {
    let p = this.pipelines.get(name);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      this.pipelines.set(name, p);
    }
    return p;
  }

  /**
   * Records one kernel: `params` packed as the uniform struct (types per `layout`, u = u32,
   * f = f32), then the storage bindings in order; `threads` invocations (0: one workgroup), or
   * `groups` workgroups when given. Nothing is recorded for no work.
   */
  private run(name: string, code: string, params: number[], layout: string, bindings: Tensor[], threads: number, groups?: number): void {
    const total = groups ?? (threads === 0 ? 1 : Math.ceil(threads / WORKGROUP));
    if (total === 0) return;
    if (this.slots === UNIFORM_SLOTS) this.flush();
    const slot = this.slots++;
    const words = slot * (UNIFORM_SLOT_BYTES / 4);
    params.forEach((v, i) => {
      if (layout[i] === "f") this.uniformF32[words + i] = v;
      else this.uniformU32[words + i] = v;
    });
    const pipeline = this.pipeline(name, code);
    const buffers = bindings.map((b) => this.tensor(b));
    const key = `${name}|${slot}|${buffers.map((b) => b.id).join(",")}`;
    let bindGroup = this.bindGroups.get(key);
    if (!bindGroup) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniforms, offset: slot * UNIFORM_SLOT_BYTES, size: UNIFORM_SLOT_BYTES } }];
      buffers.forEach((b, i) => {
        entries.push({ binding: i + 1, resource: { buffer: b.buffer } });
      });
      bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      this.bindGroups.set(key, bindGroup);
    }
    this.pass ??= this.record().beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    const maxX = this.device.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(total, maxX);
    this.pass.dispatchWorkgroups(x, Math.ceil(total / x));
  }
}
