// bench:stores' Worker: reads one user's per-user data from each store the issue weighs (R2 by
// range; KV by key; D1 by primary key, with the served Worker's own R2 and D1 stores) and, in the "+live" routes,
// together with the live ratings every recommendation reads from D1. It answers the sizes it
// read, so every route's response costs the same. Not deployed: `wrangler dev --config` only.
import type { Manifest } from "../../../training/src/contract/artifacts.ts";
import { type LiveRating, liveRatings, liveRatingsWith } from "../../src/live-store.ts";
import { d1Users, r2Users } from "../../src/user-store.ts";
import { decodeSnapshot } from "../../../training/src/contract/user-snapshots.ts";

interface Env {
  MODELS: R2Bucket;
  SNAPSHOTS: KVNamespace;
  DB: D1Database;
  VERSION: string;
  USERS: string;
  ITEMS: string;
  MAX_USER_ID: string;
}

interface Read {
  index: number;
  rated: number;
  history: number;
}

const sizes = (s: { index: number; rated: ArrayLike<number>; history: ArrayLike<number> | null }): Read => ({
  index: s.index,
  rated: s.rated.length,
  history: s.history?.length ?? 0,
});

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const match = /^\/(r2|kv|d1|live|r2\+live|kv\+live|d1\+live)\/(\d+)$/.exec(new URL(request.url).pathname);
    if (!match) return Response.json({ error: "not_found" }, { status: 404 });
    const [route, user] = [match[1], Number(match[2])];
    const items = Number(env.ITEMS);
    const manifest = { version: env.VERSION, users: Number(env.USERS), items, max_user_id: Number(env.MAX_USER_ID) } as Manifest;
    const r2 = async (): Promise<Read | null> => {
      const s = await r2Users(env.MODELS, manifest, true).get(user);
      return s && sizes(s);
    };
    const kv = async (): Promise<Read | null> => {
      const bytes = await env.SNAPSHOTS.get(`${env.VERSION}/${user}`, "arrayBuffer");
      return bytes && sizes(decodeSnapshot(bytes, items));
    };
    // the served Worker's own D1 store (the snapshots table that publish loads)
    const d1Store = d1Users(env.DB, manifest, true);
    const d1 = async (): Promise<Read | null> => {
      const s = await d1Store.get(user);
      return s && sizes(s);
    };
    let read: Read | null = null;
    let live: LiveRating[] | null = null;
    switch (route) {
      case "r2":
        read = await r2();
        break;
      case "kv":
        read = await kv();
        break;
      case "d1":
        read = await d1();
        break;
      case "live":
        live = await liveRatings(env.DB, user);
        break;
      case "r2+live":
        [read, live] = await Promise.all([r2(), liveRatings(env.DB, user)]);
        break;
      case "kv+live":
        [read, live] = await Promise.all([kv(), liveRatings(env.DB, user)]);
        break;
      case "d1+live": {
        // one round trip to D1 for both, as the served Worker reads a per_user "d1" bundle
        const [liveRows, rows] = await liveRatingsWith(env.DB, user, d1Store.query(user) as D1PreparedStatement);
        const s = d1Store.fromRows(rows);
        [live, read] = [liveRows, s && sizes(s)];
        break;
      }
    }
    if (route !== "live" && !read) return Response.json({ error: "unknown_user", user }, { status: 404 });
    return Response.json({ user, read, live: live?.length ?? null });
  },
};
