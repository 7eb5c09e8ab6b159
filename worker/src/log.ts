// The Worker's one logger. LOG_LEVEL, a Worker variable ("debug", "info" (the default), "warn",
// "error" or "silent"), chooses what reaches the log: a deployment can quiet it, and the tests
// (worker/vitest.config.ts) keep the warnings they provoke on purpose out of their output.
// The level comes from the isolate's bindings (cloudflare:workers), so code far from a request
// (a model swap, a disposal) logs without being handed `env`; that import makes this a module for
// Worker-only code (the model store, the D1 store). errors.ts, also loaded in Node by the benches,
// logs unhandled errors with console.error: a bug always prints. Tests that provoke an error spy
// on `log.error` and assert the call.
import { env } from "cloudflare:workers";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 50 } as const;
type Level = keyof typeof LEVELS;

let warnedAbout: string | undefined;

function enabled(level: Exclude<Level, "silent">): boolean {
  const name = (env as { LOG_LEVEL?: string }).LOG_LEVEL ?? "info";
  const known = Object.hasOwn(LEVELS, name);
  if (!known && warnedAbout !== name) {
    warnedAbout = name;
    console.warn(`LOG_LEVEL "${name}" is not one of ${Object.keys(LEVELS).join(", ")}: logging at "info"`);
  }
  return LEVELS[level] >= (known ? LEVELS[name as Level] : LEVELS.info);
}

export const log = {
  debug(...args: unknown[]): void {
    if (enabled("debug")) console.debug(...args);
  },
  info(...args: unknown[]): void {
    if (enabled("info")) console.log(...args);
  },
  warn(...args: unknown[]): void {
    if (enabled("warn")) console.warn(...args);
  },
  error(...args: unknown[]): void {
    if (enabled("error")) console.error(...args);
  },
};
