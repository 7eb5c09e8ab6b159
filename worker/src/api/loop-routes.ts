// The routes of the feedback loop (docs/loop.md) as OpenAPI definitions, like routes.ts: events
// (mounted at /events), the online metrics (/admin/metrics) and the A/B experiment
// (/admin/experiment). Paths are relative to their mount (MOUNTS in ./app-type.ts).
import { createRoute } from "@hono/zod-openapi";
import { EventsAnswer, EventsBody, ExperimentAnswer, ExperimentBody, MAX_EVENTS, MetricsAnswer, MetricsQuery } from "./loop-schemas.ts";
import { BEARER } from "./routes.ts";
import { ErrorBody } from "./schemas.ts";

const json = <S>(schema: S, description: string) => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => json(ErrorBody, description);
const tokenAlways = [{ [BEARER]: [] }];

const badRequest = error("bad_request: a parameter or the body breaks its rule; the message names the field.");
const unauthorized = error("unauthorized: no token, a malformed one, or a wrong one.");
const adminOnly = error("forbidden: not the admin token (or the Worker has no token configured).");
const unavailable = error("loop_store_unavailable: D1 is not available right now; nothing was changed.");

export const postEventsRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["loop"],
  summary: "Record what users did with their lists",
  description: `Stores 1 to ${MAX_EVENTS} events (impression, click, play, dismiss) in one all-or-nothing write. Idempotent by id: an id already stored is counted as a duplicate and left as it was, so a retried batch is stored once. A user token may post only its own user's events; the admin token anyone's.`,
  security: tokenAlways,
  request: { body: { required: true, content: { "application/json": { schema: EventsBody } } } },
  responses: {
    200: json(EventsAnswer, "How many were new and how many were duplicates."),
    400: error("bad_request: an event breaks its rule (the message names it, e.g. events[3].type). Nothing is stored."),
    401: unauthorized,
    403: error("forbidden: an event of another user than the token's, or the Worker has no token configured. Nothing is stored."),
    413: error("payload_too_large: the body is over 1 MB."),
    503: unavailable,
  },
});

export const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["loop"],
  summary: "Online metrics per arm and model version",
  description:
    "Lists served, impressions, clicks, CTR, conversions, catalogue coverage and the new-user share over a time range, per experiment arm and model version, and the same per hour or day for a chart. Computed by SQL in D1. Admin token only.",
  security: tokenAlways,
  request: { query: MetricsQuery },
  responses: {
    200: json(MetricsAnswer, "The figures; see docs/loop.md for each one's definition."),
    400: badRequest,
    401: unauthorized,
    403: adminOnly,
    503: unavailable,
  },
});

export const getExperimentRoute = createRoute({
  method: "get",
  path: "/experiment",
  tags: ["loop"],
  summary: "The running A/B experiment",
  security: tokenAlways,
  responses: { 200: json(ExperimentAnswer, "The experiment, or null."), 401: unauthorized, 403: adminOnly, 503: unavailable },
});

export const putExperimentRoute = createRoute({
  method: "put",
  path: "/experiment",
  tags: ["loop"],
  summary: "Set the A/B experiment",
  description:
    "Named arms with shares adding up to 1, each serving a published version (or the current one: version null). A user's arm is a hash of the experiment name and the user id: the same in every isolate. At most one version besides the current one (the Worker holds it next to the current model). Takes effect within LOOP_EXPERIMENT_CACHE_SECONDS, no deploy.",
  security: tokenAlways,
  request: { body: { required: true, content: { "application/json": { schema: ExperimentBody } } } },
  responses: {
    200: json(ExperimentAnswer, "The experiment now running."),
    400: error("bad_request: shares that do not add up to 1, repeated arm names, more than one pinned version, or a version that is not published."),
    401: unauthorized,
    403: adminOnly,
    503: unavailable,
  },
});

export const deleteExperimentRoute = createRoute({
  method: "delete",
  path: "/experiment",
  tags: ["loop"],
  summary: "End the A/B experiment",
  description: "Every list is served by the current model again, as arm 'default'.",
  security: tokenAlways,
  responses: { 200: json(ExperimentAnswer, "null: no experiment."), 401: unauthorized, 403: adminOnly, 503: unavailable },
});
