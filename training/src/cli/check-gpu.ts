// Run by `npm run test:gpu` before the GPU tests: stops at once, with ONE line saying what to
// install on this OS, when Dawn finds no WebGPU adapter (instead of every GPU test failing).
// The adapter is requested in a child process through the backend's own requestGpu(), so the
// check sees what the tests will see (EDGEREC_WEBGPU_FLAGS included), and Dawn's native
// warnings ("vkCreateInstance: Found no drivers!"), written straight to stderr, stay out of the
// answer unless --verbose asks for them.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { NO_ADAPTER_HELP, requestGpu } from "../engine/webgpu/device.ts";
import { noAdapterLine, readOsRelease } from "../util/vulkan-install.ts";
import { runCli } from "./options.ts";

/** The probe's exit status when Dawn found no adapter (any other failure exits 1). */
const NO_ADAPTER = 3;
/** Dawn answers in a second or two; a driver that hangs must not hang the tests. */
const PROBE_TIMEOUT_MS = 60_000;

const program = new Command("check-gpu")
  .description(
    "Check that Dawn finds a WebGPU adapter (the GPU tests need one); without one, print the command that installs Mesa's software Vulkan driver (lavapipe) on this OS and exit 1.",
  )
  .option("--verbose", "print the adapter found, and Dawn's own messages", false)
  .addOption(new Option("--probe", "request the adapter in this process (what the check runs in its child)").hideHelp());
program.parse();
const opts = program.opts<{ verbose: boolean; probe?: boolean }>();

if (opts.probe) {
  try {
    const gpu = await requestGpu();
    console.log(`${gpu.adapter}${gpu.software ? " (a software renderer)" : ""}`);
    gpu.device.destroy();
    process.exit(0); // Dawn's instance would keep the event loop alive
  } catch (err) {
    if (err instanceof Error && err.message === NO_ADAPTER_HELP) process.exit(NO_ADAPTER);
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}

await runCli(async () => {
  const probe = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--probe"], {
    encoding: "utf8",
    timeout: PROBE_TIMEOUT_MS,
  });
  if (opts.verbose && probe.stderr) process.stderr.write(probe.stderr);
  if (probe.status === 0) {
    if (opts.verbose) console.log(`WebGPU adapter: ${probe.stdout.trim()}`);
    return;
  }
  if (probe.status === NO_ADAPTER) throw new Error(noAdapterLine(readOsRelease(), process.getuid?.() === 0));
  const why = probe.error?.message ?? (probe.stderr.trim().split("\n").at(-1) || `exit status ${probe.status ?? probe.signal}`);
  throw new Error(`requesting a WebGPU device failed: ${why}`);
});
