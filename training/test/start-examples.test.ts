// What npm start prints once it serves: a user token for the demo user that the Worker accepts
// as that user (HS256 with the local USER_TOKEN_SECRET, 30 days), the admin token, and curl
// lines in which the user's token only ever addresses its own user (but the one that shows 403).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verify } from "hono/jwt";
import { afterAll, describe, expect, it } from "vitest";
import { USER_TOKEN_ALG } from "../src/contract/user-token.ts";
import { devVar, ensureUserTokenSecret } from "../src/serve/dev-secrets.ts";
import { ensureDevToken } from "../src/serve/local-setup.ts";
import { DEMO_USER, demoUserToken, servingExamples } from "../src/start/examples.ts";

const dir = mkdtempSync(join(tmpdir(), "edgerec-start-examples-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm start's examples", () => {
  it("print a 30-day token for the demo user signed with .dev.vars' secret, beside the admin token", async () => {
    const vars = join(dir, ".dev.vars");
    // both secrets land in one .dev.vars, each written once
    const admin = ensureDevToken(vars);
    const secret = ensureUserTokenSecret(vars);
    expect(ensureUserTokenSecret(vars)).toBe(secret);
    const text = readFileSync(vars, "utf8");
    expect(devVar(text, "API_TOKEN")).toBe(admin);
    expect(devVar(text, "USER_TOKEN_SECRET")).toBe(secret);

    const demo = await demoUserToken(secret);
    const payload = await verify(demo.token, secret, USER_TOKEN_ALG);
    expect(payload.sub).toBe(String(DEMO_USER));
    expect((payload.exp as number) - (payload.iat as number)).toBe(30 * 86_400);

    const out = servingExamples("http://127.0.0.1:8787", admin, demo);
    expect(out).toContain(`export USER_TOKEN=${demo.token}`);
    expect(out).toContain(`export ADMIN_TOKEN=${admin}`);
    expect(out).toContain(demo.expiresAt);
    const curls = out.split("\n").filter((l) => l.trim().startsWith("curl "));
    expect(curls.length).toBeGreaterThan(8);
    for (const line of curls) {
      if (line.includes("$USER_TOKEN")) {
        for (const [, id] of line.matchAll(/\/users\/([0-9]+)/g)) expect(id === String(DEMO_USER) || /# 403/.test(line), line).toBe(true);
      } else if (!line.includes("$ADMIN_TOKEN")) expect(line, "only /health goes without a token").toMatch(/\/health$/);
      if (line.includes("/admin/")) expect(line).toContain("$ADMIN_TOKEN");
    }
  });
});
