// Starts `wrangler dev` on 127.0.0.1 (local R2 from .wrangler/state, no outbound calls) and
// waits until the Worker answers /health.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { OFFLINE_WRANGLER_ENV } from "../publish/targets.ts";

export interface DevServer {
  url: string;
  child: ChildProcess;
  /** Milliseconds from spawn to the first answered /health (the Worker's cold start included). */
  readyMs: number;
  stop(): Promise<void>;
}

export interface DevOptions {
  timeoutMs?: number;
  quiet?: boolean;
  /** Worker variables overriding wrangler.toml's [vars] (e.g. a short MODEL_REFRESH_SECONDS). */
  vars?: Record<string, string>;
  /** Local state (R2, D1) in this folder instead of .wrangler/state. */
  persistTo?: string;
  /** A wrangler.toml other than the project's (a bench Worker). */
  config?: string;
  /** Port of the Worker's inspector (wrangler dev's default is 9229). */
  inspectorPort?: number;
  /**
   * Wait for a path that loads no model (its JSON 404, or 401 with a token) instead of /health, so the
   * model's cold load is left to the first real request (bench:serve times it apart).
   */
  readyWithoutModel?: boolean;
  /**
   * wrangler dev records every request's trace into a local SQLite store by default (its local
   * observability). Benches turn it off: a deployed Worker does not pay for it inline, the store
   * grows by gigabytes over long runs, and it adds work that grows with each request's spans.
   */
  localTraces?: boolean;
}

/** A path no route answers: the Worker's JSON 404, which touches no model. */
const NO_ROUTE = "/__edgerec_ready_check";

/** A port on 127.0.0.1 that nothing listens on now (tests run beside other servers). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export async function startWranglerDev(port = 8787, opts: DevOptions = {}): Promise<DevServer> {
  const vars = Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  if (opts.persistTo) vars.push("--persist-to", opts.persistTo);
  if (opts.config) vars.push("--config", opts.config);
  if (opts.inspectorPort) vars.push("--inspector-port", String(opts.inspectorPort));
  const started = performance.now();
  const child = spawn("npx", ["wrangler", "dev", "--ip", "127.0.0.1", "--port", String(port), "--log-level", opts.quiet ? "error" : "info", ...vars], {
    env: { ...process.env, ...OFFLINE_WRANGLER_ENV, ...(opts.localTraces === false ? { X_LOCAL_OBSERVABILITY: "false" } : {}) },
    stdio: opts.quiet ? ["ignore", "ignore", "pipe"] : ["ignore", "inherit", "inherit"],
    detached: true,
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(-child.pid, "SIGTERM"); // the whole process group: npx, wrangler, workerd
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}${stderr ? `: ${stderr.trim().slice(-2000)}` : ""}`);
    try {
      const res = await fetch(`${url}${opts.readyWithoutModel ? NO_ROUTE : "/health"}`);
      await res.arrayBuffer();
      // without a model: the JSON 404, or 401 when a token is configured (checked before routing)
      const ready = opts.readyWithoutModel ? res.status === 404 || res.status === 401 : res.status === 200 || res.status === 503;
      if (ready) return { url, child, readyMs: performance.now() - started, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`wrangler dev did not answer on ${url} within ${(opts.timeoutMs ?? 60_000) / 1000} s`);
}
