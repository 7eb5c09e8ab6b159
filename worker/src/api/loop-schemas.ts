// The zod schemas of the feedback loop (docs/loop.md): events clients post about the lists they
// were served, the online metrics computed from them, and the A/B experiment. Like schemas.ts,
// this imports nothing but zod, so the page type-checks against it.
import { z } from "@hono/zod-openapi";

/** At most this many events in one POST /events (one D1 statement; the body limit is 1 MB). */
export const MAX_EVENTS = 500;
/** At most this many arms in an experiment. */
export const MAX_ARMS = 8;
export const EVENT_TYPES = ["impression", "click", "play", "dismiss"] as const;

const got = (input: unknown): string => JSON.stringify(input ?? "");
const positiveInt = (what: string, example: number, description: string) =>
  z
    .int({ error: (i) => `${what} must be a positive integer, got ${got(i.input)}` })
    .min(1, { error: (i) => `${what} must be a positive integer, got ${got(i.input)}` })
    .max(999_999_999, { error: (i) => `${what} must be at most 999999999, got ${got(i.input)}` })
    .openapi({ example, description });
/** Ids chosen by clients and by the Worker: short, printable, no spaces. */
const token = (what: string, description: string, example: string) =>
  z
    .string({ error: (i) => `${what} must be a string of 1 to 64 letters, digits, '-', '_', '.' or ':', got ${got(i.input)}` })
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, { error: (i) => `${what} must be 1 to 64 letters, digits, '-', '_', '.' or ':', got ${got(i.input)}` })
    .openapi({ description, example });

export const RecId = token(
  "recId",
  "The id of the list the movie was shown in (the recId of a recommendations answer).",
  "3f1c2a9e-5b7d-4c1e-9a0b-2d4e6f8a1c3b",
);

export const EventInput = z
  .strictObject(
    {
      id: token("id", "The client's id for this event: a retried batch stores each id once.", "e-1-1193-impression"),
      userId: positiveInt("userId", 1, "The user who saw or acted on the movie."),
      movieId: positiveInt("movieId", 1193, "The movie."),
      type: z
        .enum(EVENT_TYPES, { error: (i) => `type must be one of ${EVENT_TYPES.join(", ")}, got ${got(i.input)}` })
        .openapi({ description: "impression: shown; click: opened; play: started watching; dismiss: waved away.", example: "impression" }),
      recId: RecId,
      ts: z
        .int({ error: (i) => `ts must be unix seconds (a non-negative integer), got ${got(i.input)}` })
        .min(0, { error: (i) => `ts must be unix seconds (a non-negative integer), got ${got(i.input)}` })
        .openapi({ description: "When it happened, unix seconds.", example: 1764850000 }),
    },
    {
      error: (i) =>
        i.code === "unrecognized_keys"
          ? `has an unknown field "${i.keys[0]}" (allowed: id, userId, movieId, type, recId, ts)`
          : `must be an object like {"id": "e1", "userId": 1, "movieId": 1193, "type": "impression", "recId": "...", "ts": 1764850000}`,
    },
  )
  .openapi("Event");

export const EventsBody = z
  .strictObject(
    {
      events: z
        .array(EventInput, { error: () => `must be an array of events` })
        .min(1, { error: (i) => `must hold 1 to ${MAX_EVENTS} events, got ${Array.isArray(i.input) ? i.input.length : got(i.input)}` })
        .max(MAX_EVENTS, { error: (i) => `must hold 1 to ${MAX_EVENTS} events, got ${Array.isArray(i.input) ? i.input.length : got(i.input)}` })
        .openapi({ description: `1 to ${MAX_EVENTS} events, stored all or nothing.` }),
    },
    {
      error: (i) =>
        i.code === "unrecognized_keys" ? `unknown field "${i.keys[0]}" (allowed: events)` : `the body must be a JSON object with an "events" array`,
    },
  )
  .openapi("EventsBody");

export const EventsAnswer = z
  .object({
    received: z.int().openapi({ description: "Events in the batch.", example: 3 }),
    stored: z.int().openapi({ description: "Events stored now (ids not seen before).", example: 2 }),
    duplicates: z.int().openapi({ description: "Events whose id was already stored (a retry), or repeated in the batch: ignored.", example: 1 }),
  })
  .openapi("EventsStored");

// ---- metrics --------------------------------------------------------------------------------

const timeRule = "must be unix seconds or an ISO 8601 date (2026-12-01 or 2026-12-01T12:00:00Z)";
const instant = (name: string, description: string, example: string) =>
  z
    .string({ error: (i) => `${name} ${timeRule}, got ${got(i.input)}` })
    .refine((s) => parseInstant(s) !== null, { error: (i) => `${name} ${timeRule}, got ${got(i.input)}` })
    .transform((s) => parseInstant(s) as number)
    .openapi({ type: "string", description, example });

/** Unix seconds from a query value: digits are seconds, anything else must parse as an ISO date. */
export function parseInstant(s: string): number | null {
  if (/^[0-9]{1,11}$/.test(s)) return Number(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) return null;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

export const MetricsQuery = z.object({
  from: instant("from", "Start of the range (inclusive): unix seconds or an ISO 8601 date. Default: 7 days before `to`.", "2026-12-01").optional(),
  to: instant("to", "End of the range (exclusive): unix seconds or an ISO 8601 date. Default: now (this second included).", "2026-12-08").optional(),
  bucket: z
    .enum(["hour", "day"], { error: (i) => `bucket must be hour or day, got ${got(i.input)}` })
    .optional()
    .openapi({ description: "The width of each point of the series. Default: day.", example: "day" }),
});

const rate = (description: string) =>
  z
    .number()
    .nullable()
    .openapi({ description: `${description}; null when the denominator is 0.`, example: 0.12 });

/** The figures of one arm and model version, over the range or one bucket of it. */
const Figures = {
  arm: z.string().openapi({ description: "The experiment arm that served the lists ('default' outside any experiment).", example: "control" }),
  model: z.string().openapi({ description: "The model version that ranked them.", example: "lightgcn-ml-1m-20261201" }),
  lists: z.int().openapi({ description: "Lists served (recommendation answers).", example: 1200 }),
  impressions: z.int().openapi({ description: "Impression events of those lists' movies.", example: 9000 }),
  clicks: z.int().openapi({ description: "Click events.", example: 540 }),
  ctr: rate("clicks / impressions"),
  conversions: z.int().openapi({
    description: "Shown movies (distinct user and movie) the user rated 4 or more within LOOP_CONVERSION_HOURS after the impression.",
    example: 80,
  }),
  conversionRate: rate("conversions / distinct (user, movie) impressions"),
  newUserShare: rate("lists served to users the model does not know (folded in, or a visitor's history) / lists"),
};

export const ArmMetrics = z
  .object({
    ...Figures,
    moviesShown: z.int().openapi({ description: "Distinct movies with an impression.", example: 1500 }),
    coverage: rate("moviesShown / the served catalogue's size"),
  })
  .openapi("ArmMetrics");

export const MetricsPoint = z
  .object({ t: z.int().openapi({ description: "Start of the bucket, unix seconds.", example: 1764806400 }), ...Figures })
  .openapi("MetricsPoint");

export const MetricsAnswer = z
  .object({
    from: z.int().openapi({ example: 1764201600 }),
    to: z.int().openapi({ example: 1764806400 }),
    bucket: z.enum(["hour", "day"]),
    catalogue: z.int().openapi({ description: "Movies in the served model (coverage's denominator).", example: 3706 }),
    unattributed: z.int().openapi({ description: "Events in the range whose recId matches no recorded list (unknown, or past retention).", example: 0 }),
    arms: z.array(ArmMetrics),
    series: z.array(MetricsPoint).openapi({ description: "Per bucket, arm and model: for the chart. Buckets with nothing are absent." }),
  })
  .openapi("Metrics");

// ---- experiment -----------------------------------------------------------------------------

const nameRule = (what: string) => `${what} must be 1 to 40 letters, digits, '-' or '_'`;
const armName = z
  .string({ error: (i) => `${nameRule("name")}, got ${got(i.input)}` })
  .regex(/^[A-Za-z0-9_-]{1,40}$/, { error: (i) => `${nameRule("name")}, got ${got(i.input)}` });

export const Arm = z
  .strictObject(
    {
      name: armName.openapi({ description: "The arm's name, reported with every list it serves.", example: "treatment" }),
      share: z
        .number({ error: (i) => `share must be a number above 0 and at most 1, got ${got(i.input)}` })
        .gt(0, { error: (i) => `share must be a number above 0 and at most 1, got ${got(i.input)}` })
        .max(1, { error: (i) => `share must be a number above 0 and at most 1, got ${got(i.input)}` })
        .openapi({ description: "The fraction of users assigned to it; the shares add up to 1.", example: 0.5 }),
      version: z
        .string({ error: (i) => `version must be a published model version or null, got ${got(i.input)}` })
        .regex(/^[A-Za-z0-9._-]{1,128}$/, { error: (i) => `version must be a published model version or null, got ${got(i.input)}` })
        .nullable()
        .openapi({ description: "The published version this arm serves; null: whatever models/current.json names.", example: "lightgcn-ml-1m-20261201" }),
    },
    {
      error: (i) =>
        i.code === "unrecognized_keys"
          ? `has an unknown field "${i.keys[0]}" (allowed: name, share, version)`
          : `must be an object like {"name": "control", "share": 0.5, "version": null}`,
    },
  )
  .openapi("Arm");

export const ExperimentBody = z
  .strictObject(
    {
      name: armName.openapi({
        description: "The experiment's name: part of the assignment hash, so a new name reshuffles users.",
        example: "ease-vs-lightgcn",
      }),
      arms: z
        .array(Arm, { error: () => "must be an array of arms" })
        .min(1, { error: () => `must hold 1 to ${MAX_ARMS} arms` })
        .max(MAX_ARMS, { error: () => `must hold 1 to ${MAX_ARMS} arms` }),
    },
    {
      error: (i) =>
        i.code === "unrecognized_keys" ? `unknown field "${i.keys[0]}" (allowed: name, arms)` : `the body must be a JSON object with "name" and "arms"`,
    },
  )
  .openapi("Experiment", {
    example: {
      name: "v2-vs-v1",
      arms: [
        { name: "control", share: 0.5, version: null },
        { name: "treatment", share: 0.5, version: "lightgcn-ml-1m-20261201" },
      ],
    },
  });

export const ExperimentAnswer = z
  .object({
    experiment: ExperimentBody.nullable().openapi({
      description: "The running experiment; null: none, every list is served by the current model as arm 'default'.",
    }),
    updatedAt: z.int().nullable().openapi({ description: "When it was set, unix seconds.", example: 1764850000 }),
  })
  .openapi("ExperimentState");
