// Test helpers inside workerd: put a fixture bundle into the R2 binding (and a per_user "d1"
// bundle's rows into D1) the way `npm run publish` does (files first, models/current.json
// last), and call the app.
import { env } from "cloudflare:test";
import { expect, inject } from "vitest";
import {
  BUNDLE_FILES,
  type CurrentPointer,
  type Manifest,
  type MovieMeta,
  R2_POINTER,
  type RatedCsr,
  decodeRated,
  r2Key,
} from "../../training/src/contract/artifacts.ts";
import { bindingTarget, d1SnapshotTarget, publishBundle } from "../../training/src/publish/publish.ts";
import type { FixtureBundle } from "./fixture-types.ts";

export function bundles(): FixtureBundle[] {
  return inject("bundles");
}

export function bytesOf(b: FixtureBundle, file: string): Uint8Array {
  const s = atob(b.files[file]);
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}

/**
 * Publishes a fixture bundle as `npm run publish` does (forced: tests publish older versions
 * again on purpose). With `skip`, writes the files by hand without those, to make a broken version.
 */
export async function publish(bucket: R2Bucket, b: FixtureBundle, options: { skip?: string[] } = {}): Promise<void> {
  if (!options.skip) {
    const files = new Map(Object.keys(b.files).map((name) => [name, bytesOf(b, name)]));
    const manifest = JSON.parse(new TextDecoder().decode(files.get(BUNDLE_FILES.manifest))) as Manifest;
    // the test's D1 beside the bucket, as the local publish has: per_user "d1" bundles load their rows there
    const target = { ...bindingTarget(bucket as never, "test R2"), snapshots: d1SnapshotTarget(env.DB as never, "test D1") };
    await publishBundle({ manifest, files }, target, { force: true });
    return;
  }
  for (const name of Object.values(BUNDLE_FILES)) {
    if (options.skip?.includes(name) || !(name in b.files)) continue;
    await bucket.put(r2Key(b.version, name), bytesOf(b, name));
  }
  const pointer: CurrentPointer = { version: b.version, manifest: r2Key(b.version, BUNDLE_FILES.manifest), published: new Date().toISOString() };
  await bucket.put(R2_POINTER, JSON.stringify(pointer));
}

export function fixtureData(b: FixtureBundle): { rated: RatedCsr; movies: MovieMeta[]; users: number[]; items: number[] } {
  const ratedBytes = bytesOf(b, BUNDLE_FILES.rated);
  const ids = JSON.parse(new TextDecoder().decode(bytesOf(b, BUNDLE_FILES.ids))) as { users: number[]; items: number[] };
  return {
    rated: decodeRated(ratedBytes.buffer.slice(ratedBytes.byteOffset, ratedBytes.byteOffset + ratedBytes.byteLength) as ArrayBuffer),
    movies: JSON.parse(new TextDecoder().decode(bytesOf(b, BUNDLE_FILES.movies))) as MovieMeta[],
    users: ids.users,
    items: ids.items,
  };
}

/**
 * Publishes `reference`, records its answers for a sample of known users, publishes `other` (the
 * same model with its per-user data elsewhere) to a fresh store, and expects the same answers.
 */
export async function expectSameAnswers(
  call: (path: string) => Promise<Response>,
  freshStore: () => void,
  reference: FixtureBundle,
  other: FixtureBundle,
): Promise<void> {
  const users = fixtureData(reference).users;
  const sample = [0, 3, 17, 42, 99, users.length - 1].map((u) => users[u]);
  type Recs = { recommendations: { movieId: number; score: number }[] };
  await publish(env.MODELS, reference);
  const expected = await Promise.all(sample.map(async (id) => (await (await call(`/users/${id}/recs?k=7`)).json<Recs>()).recommendations));
  await publish(env.MODELS, other);
  freshStore();
  for (const [n, id] of sample.entries()) {
    const res = await call(`/users/${id}/recs?k=7`);
    expect(res.status).toBe(200);
    const got = (await res.json<Recs>()).recommendations;
    expect(got.map((r) => r.movieId)).toEqual(expected[n].map((r) => r.movieId));
    for (const [i, r] of got.entries()) expect(r.score).toBeCloseTo(expected[n][i].score, 5);
  }
}

export interface BucketRead {
  method: "get" | "head";
  key: string;
  ranged: boolean;
}

/** The R2 binding with every get and head recorded: the method, the key, and whether it was ranged. */
export function recordingBucket(reads: BucketRead[]): R2Bucket {
  return new Proxy(env.MODELS, {
    get(target, prop) {
      if (prop === "get" || prop === "head") {
        return (key: string, options?: R2GetOptions) => {
          reads.push({ method: prop, key, ranged: Boolean(options?.range) });
          return prop === "get" ? target.get(key, options) : target.head(key);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
