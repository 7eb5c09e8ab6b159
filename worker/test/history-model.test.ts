// A bundle whose model.onnx ranks histories (EASE here; the blend is the same kind): known users
// are scored from their train history in history.bin plus their live positives, new users and
// visitors by the same graph, and routes that need item embeddings say plainly that there are none.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_FILES, type RatedCsr, decodeRated } from "../../training/src/contract/artifacts.ts";
import { createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { ModelStore } from "../src/model-store.ts";
import { bundles, bytesOf, fixtureData, publish } from "./seed.ts";

interface Rec {
  movieId: number;
  score: number;
  because: unknown;
}
interface RecsBody {
  source: string;
  recommendations: Rec[];
}

const TOKEN = "test-token";
const bindings: Partial<Env> = { API_TOKEN: TOKEN };
const auth = { authorization: `Bearer ${TOKEN}` };
const app = createApp(new ModelStore());
const call = (path: string, init: RequestInit = {}): Promise<Response> =>
  Promise.resolve(app.request(path, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } }, { ...env, ...bindings }));
const post = (path: string, body: unknown): Promise<Response> =>
  call(path, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });

async function ok<T>(res: Response | Promise<Response>): Promise<T> {
  const r = await res;
  expect(r.status).toBe(200);
  return r.json<T>();
}

describe("a model served from histories", () => {
  const b = bundles()[2];
  const data = fixtureData(b);
  const historyBytes = bytesOf(b, BUNDLE_FILES.history);
  const history: RatedCsr = decodeRated(historyBytes.buffer.slice(historyBytes.byteOffset, historyBytes.byteOffset + historyBytes.byteLength) as ArrayBuffer);
  const rowOf = (csr: RatedCsr, u: number): number[] => Array.from(csr.indices.subarray(csr.indptr[u], csr.indptr[u + 1]));
  const movieIds = (items: number[]): number[] => items.map((i) => data.items[i]);

  /** What the graph ranks for a history (POST /recs), with `hidden` movies removed afterwards. */
  async function rankedFor(historyMovies: number[], hidden: Set<number>, k: number): Promise<Rec[]> {
    const body = await ok<RecsBody>(post("/recs", { k: 100, history: historyMovies.map((movieId) => ({ movieId, rating: null })) }));
    return body.recommendations.filter((r) => !hidden.has(r.movieId)).slice(0, k);
  }

  beforeAll(async () => {
    await publish(env.MODELS, b);
  });

  it("says in /health that it ranks from histories and has no similar-movies graph", async () => {
    // the details of /health are shown without a token configured
    const open = await app.request("/health", {}, { ...env, API_TOKEN: undefined });
    const health = await ok<{ name: string; recs: string; similar: boolean; foldin: string }>(open);
    expect(health).toMatchObject({ name: "ease", recs: "history", ranker: "onnx", similar: false, foldin: "item-item" });
    // with a token, /health still says so: the page hides its "Similar" buttons
    const secured = await app.request("/health", {}, { ...env, API_TOKEN: "t0ken" });
    expect(await secured.json()).toMatchObject({ status: "ok", similar: false });
    expect(b.files[BUNDLE_FILES.foldin]).toBeUndefined();
    expect(b.files[BUNDLE_FILES.similar]).toBeUndefined();
  });

  it("ranks a known user exactly as the graph ranks the user's train history, every rated movie excluded", async () => {
    for (const u of [0, 17, 42]) {
      const user = data.users[u];
      const got = await ok<RecsBody>(call(`/users/${user}/recs?k=8`, { headers: auth }));
      expect(got.source).toBe("model");
      const rated = new Set(movieIds(rowOf(data.rated, u)));
      for (const r of got.recommendations) expect(rated.has(r.movieId)).toBe(false);
      const expected = await rankedFor(movieIds(rowOf(history, u)), rated, 8);
      expect(got.recommendations.map((r) => r.movieId)).toEqual(expected.map((r) => r.movieId));
      for (const [i, r] of got.recommendations.entries()) expect(r.score).toBeCloseTo(expected[i].score, 5);
      // no item embeddings: no reason can be given
      for (const r of got.recommendations) expect(r.because).toBeNull();
    }
  });

  it("counts a known user's live positive rating at once: it joins the history and is excluded", async () => {
    const u = 9;
    const user = data.users[u];
    const rated = new Set(movieIds(rowOf(data.rated, u)));
    const liked = data.items.find((m) => !rated.has(m))!;
    expect((await post(`/users/${user}/ratings`, { ratings: [{ movieId: liked, rating: 5 }] })).status).toBe(200);
    const got = await ok<RecsBody>(call(`/users/${user}/recs?k=8`, { headers: auth }));
    const expected = await rankedFor([...movieIds(rowOf(history, u)), liked], new Set([...rated, liked]), 8);
    expect(got.recommendations.map((r) => r.movieId)).toEqual(expected.map((r) => r.movieId));
  });

  it("folds in a user it never saw through the same graph", async () => {
    const user = 990_001;
    const liked = data.items.slice(0, 5);
    expect((await post(`/users/${user}/ratings`, { ratings: liked.map((movieId) => ({ movieId, rating: 4 })) })).status).toBe(200);
    const got = await ok<RecsBody>(call(`/users/${user}/recs?k=6`, { headers: auth }));
    expect(got.source).toBe("fold-in");
    const expected = await rankedFor(liked, new Set(liked), 6);
    expect(got.recommendations.map((r) => r.movieId)).toEqual(expected.map((r) => r.movieId));
  });

  it("answers 404 no_similar for similar movies, with the reason", async () => {
    const res = await call(`/movies/${data.items[0]}/similar`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "no_similar", message: expect.stringMatching(/no item embeddings/) });
  });
});

describe("a model served from the user's index and history (the blend)", () => {
  const b = bundles()[3];
  const data = fixtureData(b);
  const rowOf = (csr: RatedCsr, u: number): number[] => Array.from(csr.indices.subarray(csr.indptr[u], csr.indptr[u + 1]));

  beforeAll(async () => {
    await publish(env.MODELS, b);
  });

  it("serves known users through model.onnx with reasons, and similar movies from LightGCN's embeddings", async () => {
    const health = await ok<{ name: string; recs: string; similar: boolean; foldin: string }>(app.request("/health", {}, { ...env, API_TOKEN: undefined }));
    expect(health).toMatchObject({ name: "blend", recs: "user+history", similar: true, foldin: "mix" });
    const u = 3;
    const got = await ok<RecsBody>(call(`/users/${data.users[u]}/recs?k=8`));
    expect(got.source).toBe("model");
    expect(got.recommendations).toHaveLength(8);
    const rated = new Set(rowOf(data.rated, u).map((i) => data.items[i]));
    for (const r of got.recommendations) {
      expect(rated.has(r.movieId)).toBe(false);
      expect(r.because).not.toBeNull();
    }
    expect((await call(`/movies/${data.items[0]}/similar?k=3`)).status).toBe(200);
  });

  it("moves a known user's ranking with a live positive rating (it joins the history the graph scores)", async () => {
    const u = 11;
    const user = data.users[u];
    const before = await ok<RecsBody>(call(`/users/${user}/recs?k=20`));
    const liked = before.recommendations[0].movieId;
    expect((await post(`/users/${user}/ratings`, { ratings: [{ movieId: liked, rating: 5 }] })).status).toBe(200);
    const after = await ok<RecsBody>(call(`/users/${user}/recs?k=20`));
    expect(after.recommendations.map((r) => r.movieId)).not.toContain(liked);
    // the scores of the movies still recommended change: the EASE half sees the new history
    const scoreBefore = new Map(before.recommendations.map((r) => [r.movieId, r.score]));
    const moved = after.recommendations.filter((r) => scoreBefore.has(r.movieId) && Math.abs(scoreBefore.get(r.movieId)! - r.score) > 1e-6);
    expect(moved.length).toBeGreaterThan(0);
  });

  it("folds in new users and visitors through the same graph (user -1)", async () => {
    const liked = data.items.slice(10, 16);
    const visitor = await ok<RecsBody>(post("/recs", { k: 5, history: liked.map((movieId) => ({ movieId, rating: 5 })) }));
    expect(visitor.source).toBe("fold-in");
    expect(visitor.recommendations).toHaveLength(5);
    for (const r of visitor.recommendations) expect(liked).not.toContain(r.movieId);
    const user = 990_002;
    expect((await post(`/users/${user}/ratings`, { ratings: liked.map((movieId) => ({ movieId, rating: 5 })) })).status).toBe(200);
    const got = await ok<RecsBody>(call(`/users/${user}/recs?k=5`));
    expect(got.source).toBe("fold-in");
    expect(got.recommendations.map((r) => r.movieId)).toEqual(visitor.recommendations.map((r) => r.movieId));
  });

  it("folds in a history oldest first, by its timestamps: recent movies weigh more, whatever order the entries come in", async () => {
    const liked = data.items.slice(20, 27);
    const at = (k: number): number => 1_000_000_000 + 3600 * k;
    const recs = async (history: { movieId: number; rating: number; timestamp: number }[]): Promise<Rec[]> =>
      (await ok<RecsBody>(post("/recs", { k: 10, history }))).recommendations;
    const inOrder = await recs(liked.map((movieId, k) => ({ movieId, rating: 5, timestamp: at(k) })));
    // the same history sent newest first: the timestamps say the order
    const sentBackwards = await recs(liked.map((movieId, k) => ({ movieId, rating: 5, timestamp: at(k) })).reverse());
    expect(sentBackwards).toEqual(inOrder);
    // the same movies rated in the opposite order: another latest movie, other scores
    const reversedTimes = await recs(liked.map((movieId, k) => ({ movieId, rating: 5, timestamp: at(liked.length - 1 - k) })));
    expect(reversedTimes.map((r) => [r.movieId, r.score])).not.toEqual(inOrder.map((r) => [r.movieId, r.score]));
  });
});
