// Admin routes (the API_TOKEN only; the authorize middleware refuses everyone else, and so does
// this router): POST /admin/tokens mints a user token for a product's backend, GET /admin/audit
// pages through the audit trail, GET /admin/forgotten lists the users the next training must
// leave out.
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { DEFAULT_TTL, mintUserToken, parseTtl, secretProblem } from "../../../training/src/contract/user-token.ts";
import { BEARER } from "../api/routes.ts";
import { actorOf } from "../auth/principal.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { cache } from "../middleware.ts";
import { auditPage, auditStatement, recordObserved } from "../security/audit.ts";
import { forgottenPage } from "../security/forget.ts";
import { trustEnv } from "../security/settings.ts";
import { validationHook } from "../validation.ts";
import { adminOnly } from "./admin-only.ts";
import { log } from "../log.ts";

const ErrorBody = z.object({ error: z.string(), message: z.string() }).openapi("Error");
const errors = {
  400: { content: { "application/json": { schema: ErrorBody } }, description: "a field is missing or wrong" },
  401: { content: { "application/json": { schema: ErrorBody } }, description: "no valid bearer token" },
  403: { content: { "application/json": { schema: ErrorBody } }, description: "not the admin token" },
  503: { content: { "application/json": { schema: ErrorBody } }, description: "D1, or the token secret, is not available" },
};
const security = [{ [BEARER]: [] }];

const MintBody = z
  .object({
    user: z.number().int().min(1).max(999_999_999).openapi({ example: 42, description: "the user id the token acts for" }),
    ttl: z
      .union([z.string(), z.number().int()])
      .optional()
      .openapi({ example: "30d", description: 'lifetime: "30d", "12h", "90m" or seconds (60 s to 366 d; default 30d)' }),
  })
  .strict()
  .openapi("MintTokenRequest");
const MintAnswer = z
  .object({ token: z.string(), user: z.number(), expiresAt: z.string().openapi({ example: "2026-01-31T12:00:00.000Z" }) })
  .openapi("MintTokenAnswer");

const mintRoute = createRoute({
  method: "post",
  path: "/tokens",
  summary: "Mint a user token (admin)",
  description: "An HS256 JWT signed with USER_TOKEN_SECRET, sub = the user id: it reads and writes only that user's data. Audited.",
  tags: ["admin"],
  security,
  request: { body: { content: { "application/json": { schema: MintBody } }, required: true } },
  responses: { 200: { content: { "application/json": { schema: MintAnswer } }, description: "the token" }, ...errors },
});

const Page = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ description: "entries per page (1 to 500, default 50)", example: 50 }),
});
const AuditQuery = Page.extend({
  before: z.coerce.number().int().min(1).optional().openapi({ description: "the `next` of the previous page: entries older than this id", example: 120 }),
}).strict();
const AuditEntry = z
  .object({
    id: z.number(),
    at: z.number().openapi({ description: "unix milliseconds" }),
    actor: z.string().openapi({ example: "admin" }),
    action: z.string().openapi({ example: "token.mint" }),
    subject: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("AuditEntry");
const auditRoute = createRoute({
  method: "get",
  path: "/audit",
  summary: "The audit trail, newest first (admin)",
  tags: ["admin"],
  security,
  request: { query: AuditQuery },
  responses: {
    200: {
      content: { "application/json": { schema: z.object({ entries: z.array(AuditEntry), next: z.number().nullable() }) } },
      description: "a page of entries; `next` is the `before` of the following page (null: no more)",
    },
    ...errors,
  },
});

const ForgottenQuery = Page.extend({
  after: z.coerce.number().int().min(0).default(0).openapi({ description: "the `next` of the previous page: users with a larger id", example: 0 }),
}).strict();
const forgottenRoute = createRoute({
  method: "get",
  path: "/forgotten",
  summary: "Users who asked to be forgotten, by id (admin): the next training leaves them out",
  tags: ["admin"],
  security,
  request: { query: ForgottenQuery },
  responses: {
    200: {
      content: {
        "application/json": {
          schema: z.object({ users: z.array(z.object({ userId: z.number(), forgottenAt: z.number() })), next: z.number().nullable() }),
        },
      },
      description: "a page of users; `next` is the `after` of the following page (null: no more)",
    },
    ...errors,
  },
});

export const admin = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

admin.use("*", adminOnly);
admin.use("*", cache("no-store"));

admin.openapi(mintRoute, async (c) => {
  const { user, ttl } = c.req.valid("json");
  const env = trustEnv(c);
  const problem = secretProblem(env.USER_TOKEN_SECRET);
  if (problem)
    throw new ApiError(
      503,
      "no_token_secret",
      `${problem}: set it with \`npx wrangler secret put USER_TOKEN_SECRET\` (locally: .dev.vars, which npm start writes)`,
    );
  let seconds: number;
  try {
    seconds = parseTtl(ttl ?? DEFAULT_TTL);
  } catch (err) {
    throw new ApiError(400, "bad_request", `ttl: ${(err as Error).message}`);
  }
  const { token, claims } = await mintUserToken(env.USER_TOKEN_SECRET as string, user, seconds);
  const expiresAt = new Date(claims.exp * 1000).toISOString();
  // audited before the token is handed out: a token nobody can account for is never issued
  try {
    await auditStatement(c.env.DB, { actor: actorOf(c), action: "token.mint", subject: `user:${user}`, detail: { expiresAt } }).run();
  } catch (err) {
    log.error("D1 error (audit of token.mint)", err);
    throw new ApiError(503, "live_store_unavailable", "the audit log (D1) is not available right now, so no token was minted; try again shortly");
  }
  return c.json({ token, user, expiresAt }, 200);
});

admin.openapi(auditRoute, async (c) => {
  const { limit, before } = c.req.valid("query");
  await recordObserved(trustEnv(c), null);
  return c.json(await auditPage(c.env.DB, limit, before ?? null), 200);
});

admin.openapi(forgottenRoute, async (c) => {
  const { limit, after } = c.req.valid("query");
  return c.json(await forgottenPage(c.env.DB, limit, after), 200);
});
