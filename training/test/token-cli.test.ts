// `npm run token` and the local secret it reads: the printed token verifies with the secret as
// the Worker verifies it (HS256, sub = the user id, the asked lifetime), the secret comes from the
// environment first and .dev.vars second, and bad input is one clear line and exit code 1.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { verify } from "hono/jwt";
import { afterAll, describe, expect, it } from "vitest";
import { USER_TOKEN_ALG, parseTtl } from "../src/contract/user-token.ts";
import { devVar, ensureUserTokenSecret } from "../src/serve/dev-secrets.ts";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");
const cli = join(root, "training/src/cli/token.ts");
const dir = mkdtempSync(join(tmpdir(), "edgerec-token-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function token(args: string[], env: Record<string, string | undefined> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(tsx, [cli, ...args], { cwd: dir, env: { ...process.env, USER_TOKEN_SECRET: undefined, ...env } });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe("npm run token", () => {
  it("prints a token for the user, signed with USER_TOKEN_SECRET from the environment, valid for --ttl", async () => {
    const secret = "a-secret-from-the-environment-0123456789abcdef";
    const before = Math.floor(Date.now() / 1000);
    const { stdout, code } = await token(["--user", "42", "--ttl", "2h"], { USER_TOKEN_SECRET: secret });
    expect(code).toBe(0);
    const payload = await verify(stdout.trim(), secret, USER_TOKEN_ALG);
    expect(payload.sub).toBe("42");
    expect((payload.exp as number) - (payload.iat as number)).toBe(7200);
    expect(payload.iat as number).toBeGreaterThanOrEqual(before);
    await expect(verify(stdout.trim(), `${secret}x`, USER_TOKEN_ALG)).rejects.toThrow();
  });

  it("reads the secret from .dev.vars when the environment has none, and prints JSON with --json", async () => {
    const secret = ensureUserTokenSecret(join(dir, ".dev.vars"));
    const { stdout, code } = await token(["--user", "7", "--json"]);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { token: string; user: number; expiresAt: string };
    expect(out.user).toBe(7);
    const payload = await verify(out.token, secret, USER_TOKEN_ALG);
    expect(payload.sub).toBe("7");
    expect(Date.parse(out.expiresAt) / 1000).toBe(payload.exp);
    expect((payload.exp as number) - (payload.iat as number)).toBe(30 * 86_400);
  });

  it("refuses a bad user id, a bad lifetime, a missing secret, with one line and exit code 1", async () => {
    const good = { USER_TOKEN_SECRET: "x".repeat(40) };
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--user", "0"], good, /positive integer/],
      [["--user", "5", "--ttl", "forever"], good, /lifetime/],
      [["--user", "5", "--ttl", "400d"], good, /366d/],
      [["--user", "5", "--dev-vars", "missing.vars"], {}, /no USER_TOKEN_SECRET/],
      [["--user", "5"], { USER_TOKEN_SECRET: "short" }, /USER_TOKEN_SECRET is 5 characters/],
    ];
    for (const [args, env, message] of cases) {
      const { stderr, stdout, code } = await token(args, env);
      expect(code, args.join(" ")).not.toBe(0);
      expect(stdout).toBe("");
      expect(stderr).toMatch(message);
    }
  });

  it("has --help", async () => {
    const { stdout, code } = await token(["--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--user <id>/);
    expect(stdout).toMatch(/--ttl <duration>/);
  });
});

describe("the local USER_TOKEN_SECRET", () => {
  it("is written once beside API_TOKEN and kept afterwards", () => {
    const path = join(dir, "kept.dev.vars");
    writeFileSync(path, 'API_TOKEN="abc"');
    const first = ensureUserTokenSecret(path);
    expect(first.length).toBeGreaterThanOrEqual(43);
    expect(ensureUserTokenSecret(path)).toBe(first);
    const text = readFileSync(path, "utf8");
    expect(devVar(text, "API_TOKEN")).toBe("abc");
    expect(devVar(text, "USER_TOKEN_SECRET")).toBe(first);
  });

  it("parses lifetimes in s, m, h, d within 60 s and 366 d", () => {
    expect([parseTtl("90m"), parseTtl("12h"), parseTtl("3600"), parseTtl(120)]).toEqual([5400, 43_200, 3600, 120]);
    for (const bad of ["59", "367d", "1w", "-5", ""]) expect(() => parseTtl(bad)).toThrow(/lifetime/);
  });
});
