// What the trust tests share: a Worker with both secrets, user tokens made as `npm run token`
// makes them, and calls through a fresh app (its own model store) with chosen bindings.
import { env } from "cloudflare:test";
import { vi } from "vitest";
import { mintUserToken } from "../../training/src/contract/user-token.ts";
import { createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { log } from "../src/log.ts";
import { ModelStore } from "../src/model-store.ts";
import type { TrustBindings } from "../src/security/settings.ts";

export const ADMIN_TOKEN = "admin-t0ken-for-the-trust-tests";
export const USER_SECRET = "user-token-secret-for-the-trust-tests-0123456789";
export type Bindings = Partial<Env & TrustBindings>;
/** Both secrets set, anonymous recommendation reads off: a deploy's defaults. */
export const SECURED: Bindings = { API_TOKEN: ADMIN_TOKEN, USER_TOKEN_SECRET: USER_SECRET, PUBLIC_RECS: "off" };

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
export const asAdmin = bearer(ADMIN_TOKEN);

export async function userToken(user: number, ttlSeconds = 3600, now?: number, secret = USER_SECRET): Promise<string> {
  return (await mintUserToken(secret, user, ttlSeconds, now)).token;
}

export async function asUser(user: number): Promise<Record<string, string>> {
  return bearer(await userToken(user));
}

export function freshApp() {
  const app = createApp(new ModelStore());
  const call = (path: string, init: RequestInit = {}, bindings: Bindings = SECURED): Promise<Response> =>
    Promise.resolve(app.request(path, init, { ...env, ...bindings }));
  const send = (method: string, path: string, body: unknown, headers: Record<string, string>, bindings: Bindings = SECURED): Promise<Response> =>
    call(path, { method, headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) }, bindings);
  return { app, call, send };
}

/** A user id no other test uses (rate limits and quotas count per user). */
export function uniqueUser(): number {
  return 500_000_000 + Math.floor(Math.random() * 400_000_000);
}

/** A D1 binding whose every statement fails, as an unreachable database does. */
export const BROKEN_DB = {
  prepare: () => {
    throw new Error("D1_ERROR: database unavailable (test)");
  },
  batch: () => Promise.reject(new Error("D1_ERROR: database unavailable (test)")),
} as unknown as D1Database;

/** log.error, silenced and recorded, for a test that makes D1 fail on purpose (it asserts the calls). */
export function recordErrors() {
  return vi.spyOn(log, "error").mockImplementation(() => {});
}
