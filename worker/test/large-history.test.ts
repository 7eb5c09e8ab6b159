// POST /recs takes any history that fits in the 1 MB body: a long-time user's whole history (ML-1M
// has users with 1,694 ratings) is ranked, not refused at an entry count.
import { SELF, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { bundles, fixtureData, publish } from "./seed.ts";

describe("a long history in POST /recs", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  it("ranks a history of 1,694 entries (the model's movies and many it does not know), none recommended back", async () => {
    const known = data.items.slice(0, 20);
    const unknown = Array.from({ length: 1694 - known.length }, (_, i) => 1_000_000 + i);
    const history = [...known.map((movieId) => ({ movieId, rating: 5 })), ...unknown.map((movieId) => ({ movieId, rating: 4 }))];
    const res = await SELF.fetch("https://edge.test/recs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ history, k: 5 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { recommendations: { movieId: number }[]; ignored: number };
    expect(body.recommendations).toHaveLength(5);
    expect(body.ignored).toBe(unknown.length);
    for (const r of body.recommendations) expect(known).not.toContain(r.movieId);
  });

  it("still refuses a body over 1 MB with 413", async () => {
    const history = Array.from({ length: 80_000 }, (_, i) => ({ movieId: i + 1, rating: 4 }));
    const res = await SELF.fetch("https://edge.test/recs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ history }),
    });
    expect(res.status).toBe(413);
  });
});
