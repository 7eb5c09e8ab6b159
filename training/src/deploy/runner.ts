// How the deploy runs commands (wrangler, the publish CLI): behind one small interface, so that
// the plan can be built and tested against recorded wrangler outputs without an account.
import { spawn } from "node:child_process";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Show the command's output live (long steps: deploy, migrations, publish) instead of capturing it. */
  stream?: boolean;
}

/** Runs a command; resolves with its exit code and output, never rejects on a non-zero exit. */
export type CommandRunner = (command: readonly string[], opts?: RunOptions) => Promise<CommandResult>;

/** The real runner: the command's own process, no shell. */
export const processRunner: CommandRunner = (command, opts = {}) =>
  new Promise((resolve, reject) => {
    const [file, ...args] = command;
    // a captured check gets no stdin: wrangler then never prompts (nor starts a browser login)
    const child = spawn(file, args, { stdio: opts.stream ? "inherit" : ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });

/** A command as a user would type it. */
export function shown(command: readonly string[]): string {
  return command.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");
}
