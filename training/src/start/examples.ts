// What npm start prints once it serves: the demo user's token and the admin token, what each
// may do, and curl lines that use them (docs/getting-started.md shows the same).
import { DEV_VARS } from "../serve/local-setup.ts";
import { mintUserToken, parseTtl } from "../contract/user-token.ts";

export interface DemoToken {
  user: number;
  token: string;
  expiresAt: string;
}

/** The user whose token npm start prints: user 1 is in every MovieLens dataset. */
export const DEMO_USER = 1;
const DEMO_TOKEN_TTL = parseTtl("30d");

/** The user token and the admin token, what each may do, and curl lines that use them. */
export function servingExamples(url: string, adminToken: string, demo: DemoToken): string {
  const { token: userToken, expiresAt } = demo;
  const asUser = `-H "Authorization: Bearer $USER_TOKEN"`;
  const asAdmin = `-H "Authorization: Bearer $ADMIN_TOKEN"`;
  const json = "-H 'Content-Type: application/json'";
  const u = DEMO_USER;
  return [
    `\nServing on ${url} (Ctrl-C to stop). Every route but /health needs a token (secrets in ${DEV_VARS}):`,
    `  export USER_TOKEN=${userToken}`,
    `      # user ${u}'s token (valid until ${expiresAt}): that user's data only. Open ${url}/ and sign in with it.`,
    `  export ADMIN_TOKEN=${adminToken}`,
    "      # the admin token: everything, /admin included; for servers only, never a browser",
    `As user ${u}: recommendations with reasons, rate live (stored in the local D1), the ratings, a movie's similar ones:`,
    `  curl ${asUser} '${url}/users/${u}/recs?k=5'`,
    `  curl -X POST ${url}/users/${u}/ratings ${asUser} ${json} -d '{"ratings": [{"movieId": 2571, "rating": 5}, {"movieId": 1193}]}'`,
    `  curl ${asUser} ${url}/users/${u}/ratings`,
    `  curl -X DELETE ${asUser} ${url}/users/${u}/ratings/2571`,
    `  curl ${asUser} ${url}/movies/1/similar`,
    `  curl ${asUser} ${url}/users/2/recs      # 403: another user's`,
    "A visitor who keeps their own history (nothing stored):",
    `  curl -X POST ${url}/recs ${asUser} ${json} -d '{"history": [{"movieId": 260, "rating": 5}, {"movieId": 1196, "rating": 4}], "k": 5}'`,
    "As the admin: a token for a new user (what your app's backend does at sign-in), the audit log:",
    `  curl -X POST ${url}/admin/tokens ${asAdmin} ${json} -d '{"user": 100000, "ttl": "1h"}'`,
    `  curl ${asAdmin} ${url}/admin/audit`,
    `  npm run token -- --user 100000      # the same, from ${DEV_VARS}'s secret`,
    `  curl ${url}/health`,
    "",
  ].join("\n");
}

/** A token for DEMO_USER signed with the local USER_TOKEN_SECRET, good for 30 days. */
export async function demoUserToken(secret: string): Promise<DemoToken> {
  const { token, claims } = await mintUserToken(secret, DEMO_USER, DEMO_TOKEN_TTL);
  return { user: DEMO_USER, token, expiresAt: new Date(claims.exp * 1000).toISOString() };
}
