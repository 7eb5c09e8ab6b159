// The per-user token both sides agree on: an HS256 JWT signed with the USER_TOKEN_SECRET secret,
// whose `sub` is the user id (a decimal string, as RFC 7519 wants), with an expiry. Minted by
// `npm run token` (Node) and by POST /admin/tokens (the Worker); verified by the Worker. One
// module, so the two minters cannot drift apart.
import { sign } from "hono/jwt";

export const USER_TOKEN_ALG = "HS256" as const;
/** Longest lifetime a token may be given: a leaked token must not be good for ever. */
export const MAX_TTL_SECONDS = 366 * 86_400;
export const DEFAULT_TTL = "30d";
/** Shortest secret accepted: 32 bytes of randomness written as text is 43+ characters. */
export const MIN_SECRET_LENGTH = 32;

export interface UserTokenClaims {
  sub: string;
  iat: number;
  exp: number;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "30d", "12h", "90m", "3600s" or "3600" (seconds) as seconds; throws a message naming the rule. */
export function parseTtl(value: string | number): number {
  const m = /^([0-9]{1,9})([smhd]?)$/.exec(String(value).trim());
  const seconds = m ? Number(m[1]) * UNITS[m[2] || "s"] : Number.NaN;
  if (!(seconds >= 60 && seconds <= MAX_TTL_SECONDS)) {
    throw new Error(`the token lifetime must be from 60s to ${MAX_TTL_SECONDS / 86_400}d, like "30d", "12h" or "3600", got ${JSON.stringify(value)}`);
  }
  return seconds;
}

/** Why a secret cannot sign tokens, or null when it can. */
export function secretProblem(secret: string | undefined): string | null {
  if (!secret) return "USER_TOKEN_SECRET is not set";
  if (secret.length < MIN_SECRET_LENGTH) return `USER_TOKEN_SECRET is ${secret.length} characters; use at least ${MIN_SECRET_LENGTH} random ones`;
  return null;
}

/** A token for `userId` valid for `ttlSeconds` from `now` (unix seconds). */
export async function mintUserToken(
  secret: string,
  userId: number,
  ttlSeconds: number,
  now = Math.floor(Date.now() / 1000),
): Promise<{ token: string; claims: UserTokenClaims }> {
  const problem = secretProblem(secret);
  if (problem) throw new Error(problem);
  if (!Number.isSafeInteger(userId) || userId < 1) throw new Error(`the user id must be a positive integer, got ${JSON.stringify(userId)}`);
  const claims: UserTokenClaims = { sub: String(userId), iat: now, exp: now + ttlSeconds };
  return { token: await sign({ ...claims }, secret, USER_TOKEN_ALG), claims };
}
