// Time from `npm start` to the first answered recommendation: starts training/src/cli/start.ts
// with the given options in the current folder, polls GET /users/<user>/recs with the token from
// .dev.vars until it answers 200, prints the seconds, then stops the start (or, with
// --until-done, waits for its background training to finish first). Ends with one JSON line.
// A benchmark, not a test: it asserts nothing. Run it from a fresh clone for a fresh start's time.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { integer, runCli } from "../src/cli/options.ts";
import { freePort } from "../src/serve/wrangler-dev.ts";

const program = new Command("bench:start")
  .description("Seconds from starting npm start to the first 200 from /users/<user>/recs. Options after -- go to npm start.")
  .option("--user <id>", "user whose recommendations are polled", integer, 1)
  .option("--timeout <s>", "give up after this many seconds", integer, 900)
  .option("--until-done", "keep it serving until its background training is over (prints when each model is served)", false)
  .allowExcessArguments()
  .allowUnknownOption();
program.parse();
const opts = program.opts<{ user: number; timeout: number; untilDone: boolean }>();

function token(): string | null {
  if (!existsSync(".dev.vars")) return null;
  return /^API_TOKEN\s*=\s*"?([^"\n]+)"?\s*$/m.exec(readFileSync(".dev.vars", "utf8"))?.[1] ?? null;
}

await runCli(async () => {
  const args = program.args;
  const port = args.includes("--port") ? Number(args[args.indexOf("--port") + 1]) : await freePort();
  const cli = fileURLToPath(new URL("../src/cli/start.ts", import.meta.url));
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const child = spawn(process.execPath, [...process.execArgv, cli, ...(args.includes("--port") ? args : [...args, "--port", String(port)])], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let done = false;
  const events: { at: number; line: string }[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    console.log(line);
    if (/serving \S+ now|background training over/.test(line)) events.push({ at: elapsed(), line });
    if (/background training over/.test(line)) done = true;
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((c) => {
    exitCode = c;
  });
  let firstRecs: number | null = null;
  while (elapsed() < opts.timeout && exitCode === undefined) {
    const t = token();
    if (t) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/users/${opts.user}/recs`, { headers: { authorization: `Bearer ${t}` } });
        await res.arrayBuffer();
        if (res.status === 200) {
          firstRecs = elapsed();
          break;
        }
      } catch {
        // not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`first recommendation answered after ${firstRecs === null ? "never" : `${firstRecs.toFixed(1)} s`}`);
  // with --until-done: which model version answers, polled every 2 s, to see the hot swaps
  const served: { at: number; model: string }[] = [];
  while (opts.untilDone && firstRecs !== null && exitCode === undefined && elapsed() < opts.timeout) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/users/${opts.user}/recs`, { headers: { authorization: `Bearer ${token()}` } });
      const body = (await res.json()) as { model?: string };
      if (body.model && body.model !== served.at(-1)?.model) {
        served.push({ at: Number(elapsed().toFixed(1)), model: body.model });
        console.log(`recommendations now come from ${body.model} (${elapsed().toFixed(1)} s)`);
      }
    } catch {
      // a request during a swap or shutdown
    }
    // over once training is done and the last published version answers (or 30 s later)
    const last = events.findLast((e) => /serving \S+ now/.test(e.line));
    if (done && (!last || served.at(-1)?.model.startsWith(/serving (\S+) now/.exec(last.line)?.[1] ?? "?") || elapsed() > last.at + 30)) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  if (exitCode === undefined) child.kill("SIGTERM");
  await exited;
  console.log(JSON.stringify({ first_recs_s: firstRecs === null ? null : Number(firstRecs.toFixed(1)), events, served, port }));
  if (firstRecs === null) process.exitCode = 1;
});
