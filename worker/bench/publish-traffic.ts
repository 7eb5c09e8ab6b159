// Traffic for publishing under load (the test in npm test and npm run bench:publish): a fixed
// number of connections, each a loop of reads (a known user's recommendations, its own new
// user's fold-in recommendations and live ratings) and rating writes, every answer checked to be
// JSON. Every write is a new (user, movie) pair, each connection with users of its own, so the
// writes answered 2xx can all be read back afterwards: a 2xx write missing then is a lost one.
import { BUNDLE_FILES, type Manifest } from "../../training/src/contract/artifacts.ts";
import type { Bundle } from "../../training/src/publish/publish.ts";
import { Rng } from "../../training/src/util/rng.ts";

export interface TrafficOptions {
  url: string;
  token: string;
  connections: number;
  /** Users the model knows (their recommendations are read). */
  knownUsers: number[];
  /** Movies the model knows (rated by the writes). */
  movies: number[];
  /** New users get ids from here up (clear of the model's users). */
  newUserBase?: number;
  seed?: number;
}

export interface TrafficReport {
  requests: number;
  statuses: Record<string, number>;
  /** Answers whose body is not JSON (or whose Content-Type says otherwise); network failures count here too. */
  non_json: number;
  http_5xx: number;
  /** 503s without a Retry-After header. */
  refused_without_retry_after: number;
  writes: number;
  writes_2xx: number;
  /** Writes refused (4xx or 503 with Retry-After): not stored, the client told to retry. */
  writes_refused: number;
  /** 2xx writes not read back afterwards with the rating they stored. */
  writes_lost: number;
  /** The first few unexpected answers, for the report. */
  examples: string[];
}

/** Ratings per new user before the connection starts another (a short history, as new users have). */
const PER_USER = 40;

/** The bundle again under a new version id and creation time (same files): a new publication. */
export function restamped(base: Bundle, version: string): Bundle {
  const manifest: Manifest = { ...base.manifest, version, created: new Date().toISOString() };
  const files = new Map(base.files);
  files.set(BUNDLE_FILES.manifest, new TextEncoder().encode(JSON.stringify(manifest)));
  return { manifest, files };
}

interface Answer {
  status: number;
  json: unknown;
  retryAfter: string | null;
}

/** Runs the traffic until stop(); stop() waits for the requests in flight and checks every 2xx write. */
export function startTraffic(o: TrafficOptions): { stop: () => Promise<TrafficReport> } {
  const report: TrafficReport = {
    requests: 0,
    statuses: {},
    non_json: 0,
    http_5xx: 0,
    refused_without_retry_after: 0,
    writes: 0,
    writes_2xx: 0,
    writes_refused: 0,
    writes_lost: 0,
    examples: [],
  };
  const auth = { authorization: `Bearer ${o.token}` };
  const note = (line: string): void => {
    if (report.examples.length < 10) report.examples.push(line);
  };
  /** One request, counted and checked; null when it got no answer at all. */
  const send = async (method: string, path: string, body?: unknown): Promise<Answer | null> => {
    report.requests++;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${o.url}${path}`, {
        method,
        headers: body === undefined ? auth : { ...auth, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      text = await res.text();
    } catch (err) {
      report.non_json++;
      note(`${method} ${path}: no answer (${(err as Error).message})`);
      return null;
    }
    report.statuses[res.status] = (report.statuses[res.status] ?? 0) + 1;
    if (res.status >= 500) {
      report.http_5xx++;
      note(`${method} ${path} -> ${res.status} ${text.slice(0, 200)}`);
    }
    const retryAfter = res.headers.get("retry-after");
    if (res.status === 503 && !retryAfter) report.refused_without_retry_after++;
    let json: unknown = null;
    try {
      if (!res.headers.get("content-type")?.includes("application/json")) throw new Error("not JSON");
      json = JSON.parse(text);
    } catch {
      report.non_json++;
      note(`${method} ${path} -> ${res.status}, not JSON: ${text.slice(0, 120)}`);
    }
    return { status: res.status, json, retryAfter };
  };

  /** (user, movie) -> the rating a 2xx write stored. */
  const stored = new Map<number, Map<number, number>>();
  let running = true;
  const loop = async (conn: number): Promise<void> => {
    const rng = new Rng((o.seed ?? 7) * 1000 + conn);
    // this connection's users: a new one every `perUser` writes, each of its movies a new one,
    // so (user, movie) pairs never repeat and a user's history stays short
    const firstUser = (o.newUserBase ?? 50_000_000) + conn * 1_000_000;
    const perUser = Math.min(PER_USER, o.movies.length);
    let writes = 0;
    const userOf = (n: number) => firstUser + Math.floor(n / perUser);
    const movieOf = (n: number) => o.movies[((n % perUser) + Math.floor(n / perUser) * perUser) % o.movies.length];
    while (running) {
      const kind = rng.int(10);
      if (kind < 4) {
        await send("GET", `/users/${o.knownUsers[rng.int(o.knownUsers.length)]}/recs?k=10`);
      } else if (kind < 7) {
        const user = userOf(writes);
        const movie = movieOf(writes);
        const rating = 1 + rng.int(5);
        writes++;
        report.writes++;
        const a = await send("POST", `/users/${user}/ratings`, { ratings: [{ movieId: movie, rating }] });
        if (a && a.status >= 200 && a.status < 300) {
          report.writes_2xx++;
          const movies = stored.get(user) ?? new Map<number, number>();
          stored.set(user, movies.set(movie, rating));
        } else if (a && (a.status < 500 || (a.status === 503 && a.retryAfter))) {
          report.writes_refused++;
        }
      } else if (kind < 9) {
        // the connection's newest user: fold-in from the live ratings just written
        if (writes > 0) await send("GET", `/users/${userOf(writes - 1)}/recs?k=10`);
      } else if (writes > 0) {
        await send("GET", `/users/${userOf(writes - 1)}/ratings`);
      }
    }
  };
  const loops = Array.from({ length: o.connections }, (_, c) => loop(c));

  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      // every 2xx write, read back (a refused read is tried again: it is not what is checked)
      for (const [user, movies] of stored) {
        let ratings: { movieId: number; rating: number | null }[] | null = null;
        for (let attempt = 0; attempt < 20 && !ratings; attempt++) {
          const res = await fetch(`${o.url}/users/${user}/ratings`, { headers: auth });
          if (res.ok) ratings = ((await res.json()) as { ratings: { movieId: number; rating: number | null }[] }).ratings;
          else {
            await res.arrayBuffer();
            await new Promise((r) => setTimeout(r, 500));
          }
        }
        const found = new Map((ratings ?? []).map((r) => [r.movieId, r.rating]));
        for (const [movie, rating] of movies) {
          if (found.get(movie) !== rating) {
            report.writes_lost++;
            note(`user ${user} movie ${movie}: wrote ${rating} (2xx), read back ${found.get(movie) ?? "nothing"}`);
          }
        }
      }
      return report;
    },
  };
}
