// The Worker isolate's own memory under `wrangler dev`, read through its inspector: V8's heap
// (Runtime.getHeapUsage: the JS heap and ArrayBuffer backing stores) plus ORT's wasm memory and
// the int8 ranking kernel's, which V8's statistics leave out (the Worker publishes their sizes as
// globals for this). This is
// what Workers' 128 MB per-isolate limit counts; workerd's process RSS under wrangler dev also
// holds the runtime, its caches and the local R2/D1 simulators, and says little about it.
import WebSocket from "ws";

export interface IsolateMemory {
  /** V8's heap in use (JS objects, strings). */
  js_heap_mb: number;
  /** ArrayBuffer and external string backing stores (model bytes, fetched bodies). */
  array_buffers_mb: number;
  /** onnxruntime-web's wasm linear memory (the sessions' tables). */
  ort_wasm_mb: number;
  /** The int8 ranking kernels' wasm memories (their item tables), for bundles ranked by the kernel. */
  kernel_wasm_mb: number;
  total_mb: number;
}

/** V8's CPU profile (the inspector's Profiler.Profile): a call tree, and which node each sample hit. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  /** Microseconds between consecutive samples (the first from the profile's start). */
  timeDeltas: number[];
}

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

export class IsolateInspector {
  private nextId = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();
  /** The Worker's execution context (announced after Runtime.enable). */
  private context: number | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
        method?: string;
        params?: { context?: { id: number } };
      };
      if (m.method === "Runtime.executionContextCreated" && m.params?.context) this.context = m.params.context.id;
      if (m.id !== undefined && this.pending.has(m.id)) {
        this.pending.get(m.id)?.(m.error ? new Error(`inspector: ${m.error.message}`) : m.result);
        this.pending.delete(m.id);
      }
    });
  }

  /** Connects to wrangler dev's inspector on 127.0.0.1:port (the Worker's isolate). */
  static async connect(port: number, timeoutMs = 10_000): Promise<IsolateInspector> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no inspector on 127.0.0.1:${port} after ${timeoutMs} ms`)), timeoutMs);
      ws.once("open", () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`inspector on 127.0.0.1:${port}: ${e.message}`));
      });
    });
    const inspector = new IsolateInspector(ws);
    await inspector.call("Runtime.enable");
    await inspector.call("HeapProfiler.enable");
    return inspector;
  }

  private call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`inspector: no answer to ${method}`));
      }, 10_000);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r as T);
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async sample(): Promise<IsolateMemory> {
    const heap = await this.call<{ usedSize: number; backingStorageSize?: number }>("Runtime.getHeapUsage");
    const global = async (name: string): Promise<number> => {
      const r = await this.call<{ result: { value?: number } }>("Runtime.evaluate", {
        expression: `globalThis.${name} ? globalThis.${name}() : 0`,
        returnByValue: true,
        ...(this.context !== null ? { contextId: this.context } : {}),
      });
      return Number(r.result?.value ?? 0);
    };
    const js = heap.usedSize;
    const buffers = heap.backingStorageSize ?? 0;
    const ort = await global("__edgerecOrtWasmBytes");
    const kernel = await global("__edgerecKernelWasmBytes");
    return { js_heap_mb: mb(js), array_buffers_mb: mb(buffers), ort_wasm_mb: mb(ort), kernel_wasm_mb: mb(kernel), total_mb: mb(js + buffers + ort + kernel) };
  }

  /** Starts V8's sampling CPU profiler in the isolate (every `intervalUs` microseconds). */
  async startProfiling(intervalUs = 100): Promise<void> {
    await this.call("Profiler.enable");
    await this.call("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.call("Profiler.start");
  }

  /** Stops the profiler: the profile of everything the isolate ran since startProfiling. */
  async stopProfiling(): Promise<CpuProfile> {
    const { profile } = await this.call<{ profile: CpuProfile }>("Profiler.stop");
    return profile;
  }

  /** Runs a full garbage collection, so the next sample shows what is live. */
  async collectGarbage(): Promise<void> {
    await this.call("HeapProfiler.collectGarbage");
  }

  close(): void {
    this.ws.close();
  }
}
