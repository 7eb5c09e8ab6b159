// Publishing refuses a bundle whose checksums are right but whose content cannot be served (an
// empty catalogue, ids repeated or disagreeing across files, counts that are not the manifest's,
// graphs made for another catalogue), uploading nothing; and the pointer it writes keeps the
// versions served before, newest first, so a Worker that cannot load the new one serves the last.
import { describe, expect, it } from "vitest";
import { BUNDLE_FILES, KEEP_PREVIOUS, R2_POINTER, encodeRated } from "../src/contract/artifacts.ts";
import { contentProblems } from "../src/contract/validate.ts";
import { type Bundle, bindingTarget, publishBundle } from "../src/publish/publish.ts";
import { tinyBundle } from "./tiny-bundle.ts";
import { MemoryBucket } from "./memory-bucket.ts";

/** A graph with its TopK operator renamed TopX: the same bytes but one, a valid protobuf. */
function renamedTopK(graph: Uint8Array): Uint8Array {
  const text = new TextDecoder("latin1").decode(graph);
  const at = text.indexOf("TopK");
  const out = graph.slice();
  out[at + 3] = "X".charCodeAt(0);
  return out;
}

const created = (day: number) => `2026-11-${String(day).padStart(2, "0")}T00:00:00.000Z`;
const movies = (list: { movieId: number; title: string }[]) => JSON.stringify(list.map((m) => ({ ...m, year: null, genres: [] })));

/** Bundles whose checksums match their manifests, each with one content fault, and the words the refusal must say. */
const INVALID: [string, Bundle, RegExp][] = [
  ["an empty catalogue (movies.json [])", tinyBundle("bad-empty", created(5), { replace: { [BUNDLE_FILES.movies]: "[]" } }), /movies\.json is empty/],
  [
    "a movie id listed twice",
    tinyBundle("bad-twice", created(5), {
      replace: {
        [BUNDLE_FILES.movies]: movies([
          { movieId: 10, title: "A" },
          { movieId: 10, title: "B" },
        ]),
      },
    }),
    /movie ids more than once: 10/,
  ],
  [
    "movies.json and ids.json naming different movies",
    tinyBundle("bad-disagree", created(5), {
      replace: {
        [BUNDLE_FILES.movies]: movies([
          { movieId: 10, title: "A" },
          { movieId: 30, title: "C" },
        ]),
      },
    }),
    /movies\.json and ids\.json disagree: item 1 is movie 30 in one and 20 in the other/,
  ],
  [
    "a user id mapped twice",
    tinyBundle("bad-users", created(5), { replace: { [BUNDLE_FILES.ids]: JSON.stringify({ users: [1, 1, 3], items: [10, 20] }) } }),
    /user ids more than once: 1/,
  ],
  [
    "a manifest counting more items than the files hold",
    tinyBundle("bad-count", created(5), { manifest: { items: 3 } }),
    /lists 2 movies, manifest\.json says 3 items/,
  ],
  [
    "rated lists for another number of users",
    tinyBundle("bad-rated", created(5), { replace: { [BUNDLE_FILES.rated]: encodeRated(2, 2, [0, 1, 2], [0, 1]) } }),
    /rated\.bin has 2 users x 2 items, manifest\.json says 3 x 2/,
  ],
  ["graphs exported for a catalogue of five movies", tinyBundle("bad-graph", created(5), { graphItems: 5 }), /model\.onnx: table item_embedding is 5 x 2/],
  [
    "a model.onnx that takes no user",
    tinyBundle("bad-inputs", created(5), { replace: { [BUNDLE_FILES.model]: tinyBundle("x", created(1)).files.get(BUNDLE_FILES.similar)! } }),
    /model\.onnx lacks the input user/,
  ],
  [
    "a model.onnx that is not a graph",
    tinyBundle("bad-onnx", created(5), { replace: { [BUNDLE_FILES.model]: "not a graph at all" } }),
    /model\.onnx: not an ONNX graph/,
  ],
  [
    "a model.onnx with an operator ONNX Runtime does not know",
    tinyBundle("bad-op", created(5), { replace: { [BUNDLE_FILES.model]: renamedTopK(tinyBundle("x", created(1)).files.get(BUNDLE_FILES.model)!) } }),
    /model\.onnx uses the operator "TopX"/,
  ],
];

describe("content validation at publish", () => {
  it("finds nothing wrong with a servable bundle", () => {
    const good = tinyBundle("good", created(1));
    const files = Object.fromEntries(Object.entries(BUNDLE_FILES).map(([k, name]) => [k, good.files.get(name)]));
    expect(contentProblems(good.manifest, files)).toEqual([]);
  });

  it("reads files held in Node Buffers that share a pool (as readBundle's small files are)", () => {
    const good = tinyBundle("good", created(1));
    const files = Object.fromEntries(
      Object.keys(good.manifest.files).map((k) => [k, Buffer.from(good.files.get(BUNDLE_FILES[k as keyof typeof BUNDLE_FILES])!)]),
    );
    expect(files.rated.buffer.byteLength).toBeGreaterThan(files.rated.byteLength);
    expect(contentProblems(good.manifest, files)).toEqual([]);
  });

  it.each(INVALID)("refuses %s, uploading nothing and leaving the served version", async (_what, bad, words) => {
    const bucket = new MemoryBucket();
    const target = bindingTarget(bucket, "test bucket");
    await publishBundle(tinyBundle("good", created(1)), target);
    const before = new Map(bucket.objects);
    await expect(publishBundle(bad, target, { force: true })).rejects.toThrow(words);
    await expect(publishBundle(bad, target, { force: true })).rejects.toThrow(/not a servable bundle.*Nothing was uploaded/);
    expect(bucket.objects).toEqual(before);
    expect(bucket.pointer()?.version).toBe("good");
  });
});

describe("the pointer's previous versions", () => {
  it(`keeps the ${KEEP_PREVIOUS} versions served before, newest first, each with its manifest`, async () => {
    const bucket = new MemoryBucket();
    const target = bindingTarget(bucket, "test bucket");
    const versions = ["v1", "v2", "v3", "v4", "v5"];
    for (const [i, v] of versions.entries()) {
      await publishBundle(tinyBundle(v, created(i + 1)), target);
      const pointer = bucket.pointer()!;
      expect(pointer.version).toBe(v);
      const expected = versions.slice(Math.max(0, i - KEEP_PREVIOUS), i).reverse();
      expect((pointer.previous ?? []).map((p) => p.version)).toEqual(expected);
      for (const p of pointer.previous ?? []) expect(bucket.objects.has(p.manifest)).toBe(true);
    }
  });

  it("starts the list from a pointer written before it existed, and never lists the served version", async () => {
    const bucket = new MemoryBucket();
    const target = bindingTarget(bucket, "test bucket");
    await publishBundle(tinyBundle("v1", created(1)), target);
    const old = bucket.pointer()!;
    delete old.previous;
    bucket.objects.set(R2_POINTER, { bytes: new TextEncoder().encode(JSON.stringify(old)), etag: "old" });
    await publishBundle(tinyBundle("v2", created(2)), target);
    expect(bucket.pointer()?.previous?.map((p) => p.version)).toEqual(["v1"]);
    // v1 again on purpose: it leaves the list, and v2 joins it
    await publishBundle(tinyBundle("v1", created(1)), target, { force: true });
    expect(bucket.pointer()?.previous?.map((p) => p.version)).toEqual(["v2"]);
  });
});
