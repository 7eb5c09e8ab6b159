// Where an isolate's CPU went, from V8's sampling profile (bench:profile): time per function by
// itself (self) and with everything it called (inclusive), with V8's own buckets apart: idle
// (waiting for I/O: D1, R2, the cache), program (the runtime outside JavaScript) and garbage
// collection. WebAssembly functions (onnxruntime-web, the int8 kernel) are counted together as
// "wasm <module>", since their names are numbers.
import type { CpuProfile } from "./isolate-memory.ts";

export interface FunctionTime {
  name: string;
  ms: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers. */
  total_ms: number;
  idle_ms: number;
  program_ms: number;
  gc_ms: number;
  /** All WebAssembly, whichever module. */
  wasm_ms: number;
  /** Functions by their own time, longest first. */
  self: FunctionTime[];
  /** Functions with their callees' time, longest first (a recursive function counted once per sample). */
  inclusive: FunctionTime[];
}

const SPECIAL: Record<string, "idle_ms" | "program_ms" | "gc_ms"> = { "(idle)": "idle_ms", "(program)": "program_ms", "(garbage collector)": "gc_ms" };

type Frame = CpuProfile["nodes"][number]["callFrame"];

function nameOf(frame: Frame): string {
  if (frame.url.startsWith("wasm://")) return `wasm ${frame.url.split("/").pop()?.slice(0, 8) ?? ""}`;
  const file = frame.url.split("/").pop() ?? "";
  return `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
}

function ranked(times: Map<string, number>, top: number): FunctionTime[] {
  return [...times]
    .map(([name, us]) => ({ name, ms: Math.round(us / 10) / 100 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
}

export function summarizeProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const buckets = { idle_ms: 0, program_ms: 0, gc_ms: 0, wasm_ms: 0 };
  let total = 0;
  // sample i lasts until sample i + 1 (as Chrome's DevTools count it)
  for (let i = 0; i < profile.samples.length - 1; i++) {
    const us = profile.timeDeltas[i + 1];
    total += us;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    const special = SPECIAL[node.callFrame.functionName];
    if (special) {
      buckets[special] += us;
      continue;
    }
    const name = nameOf(node.callFrame);
    if (name.startsWith("wasm ")) buckets.wasm_ms += us;
    self.set(name, (self.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame || frame.functionName === "(root)") continue;
      const n = nameOf(frame);
      if (seen.has(n)) continue;
      seen.add(n);
      inclusive.set(n, (inclusive.get(n) ?? 0) + us);
    }
  }
  const ms = (us: number): number => Math.round(us / 10) / 100;
  return {
    total_ms: ms(total),
    idle_ms: ms(buckets.idle_ms),
    program_ms: ms(buckets.program_ms),
    gc_ms: ms(buckets.gc_ms),
    wasm_ms: ms(buckets.wasm_ms),
    self: ranked(self, top),
    inclusive: ranked(inclusive, top),
  };
}
