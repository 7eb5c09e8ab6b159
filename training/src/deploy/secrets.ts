// The Worker's secrets a deploy makes sure are set (the one list: checked, asked for, uploaded),
// and how a missing one gets its value.
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";

export interface SecretSpec {
  name: string;
  /** What it is for, shown when asking. */
  what: string;
  /** Clients need to know it: a generated value is printed once. */
  shared: boolean;
}

export const REQUIRED_SECRETS: readonly SecretSpec[] = [
  { name: "API_TOKEN", what: "the bearer token that every route but /health requires (your clients send it)", shared: true },
  { name: "USER_TOKEN_SECRET", what: "the key the Worker signs per-user tokens with (nobody types it)", shared: false },
];

export function randomSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** One line from the terminal, not echoed. */
function askHidden(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
  let prompted = false;
  out._writeToOutput = (s: string) => {
    // the question itself is written; what is typed is not
    if (!prompted) {
      prompted = true;
      process.stdout.write(s);
    }
  };
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stdout.write("\n");
      resolve(answer.trim());
    });
  });
}

/**
 * Values for the missing secrets: from environment variables of the same names, else asked for on
 * the terminal (Enter: a random one). Without a terminal, a missing variable is an error, so that
 * an unattended deploy never invents a token nobody has seen.
 */
export async function secretValues(missing: readonly string[], env = process.env, interactive = Boolean(process.stdin.isTTY)): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const name of missing) {
    const spec = REQUIRED_SECRETS.find((s) => s.name === name);
    const fromEnv = env[name];
    if (fromEnv) {
      values[name] = fromEnv;
      continue;
    }
    if (!interactive)
      throw new Error(
        `the Worker has no ${name} secret and there is no terminal to ask on: set the environment variable ${name} and run the deploy again; nothing was changed`,
      );
    const typed = await askHidden(`${name}: ${spec?.what ?? "a secret"}. Type a value, or press Enter for a random one: `);
    values[name] = typed || randomSecret();
    if (!typed && spec?.shared) console.log(`${name} (generated, shown once: keep it): ${values[name]}`);
  }
  return values;
}
