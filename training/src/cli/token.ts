// npm run token -- --user <id> [--ttl 30d]: prints a user token (an HS256 JWT, sub = the user id)
// for the Worker to accept as that user. The secret is USER_TOKEN_SECRET from the environment
// (the deployed Worker's, for a real token), else from .dev.vars (what `wrangler dev` uses).
import { Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_TTL, mintUserToken, parseTtl } from "../contract/user-token.ts";
import { readDevVar } from "../serve/dev-secrets.ts";
import { runCli } from "./options.ts";

function userId(value: string): number {
  if (!/^[0-9]{1,9}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError("a positive integer user id, like 42");
  return Number(value);
}

function ttl(value: string): number {
  try {
    return parseTtl(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const program = new Command("token")
  .description(
    "Print a user token: an HS256 JWT signed with USER_TOKEN_SECRET (from the environment, else .dev.vars), sub = the user id. With it the Worker lets the bearer read and write that user's data only (docs/trust.md).",
  )
  .requiredOption("--user <id>", "the user id the token acts for", userId)
  .addOption(
    new Option("--ttl <duration>", 'lifetime: "30d", "12h", "90m" or seconds (60 s to 366 d)').argParser(ttl).default(parseTtl(DEFAULT_TTL), DEFAULT_TTL),
  )
  .option("--dev-vars <path>", "where to read USER_TOKEN_SECRET when the environment has none", ".dev.vars")
  .option("--json", "print {token, user, expiresAt} as JSON instead of the bare token", false);
program.parse();
const opts = program.opts<{ user: number; ttl: number; devVars: string; json: boolean }>();

await runCli(async () => {
  const secret = process.env.USER_TOKEN_SECRET || readDevVar("USER_TOKEN_SECRET", opts.devVars);
  if (!secret) {
    throw new Error(
      `no USER_TOKEN_SECRET: set it in the environment (the deployed Worker's secret) or in ${opts.devVars} (npm start writes one for wrangler dev)`,
    );
  }
  const { token, claims } = await mintUserToken(secret, opts.user, opts.ttl);
  const expiresAt = new Date(claims.exp * 1000).toISOString();
  console.log(opts.json ? JSON.stringify({ token, user: opts.user, expiresAt }) : token);
  if (!opts.json) console.error(`token for user ${opts.user}, valid until ${expiresAt}`);
});
