// Names both the Worker and its Node benches use (no Workers types here: the benches import it).

/** EDGEREC_DEV's value under `wrangler dev --var`: without it DEV_LATENCY refuses to run (latency.ts). */
export const DEV_MARKER = "wrangler-dev";

/** Response header with the request's D1 queries by where they ran; only while latency is injected. */
export const DEV_QUERIES_HEADER = "x-dev-d1-queries";
