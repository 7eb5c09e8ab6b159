// The page at /: search the catalogue, keep "my movies" (liked or disliked) in localStorage,
// get recommendations with reasons from POST /recs after every change, see a movie's similar
// movies, and the signed-in user's own recommendations and stored ratings. It signs in with a
// USER token (an HS256 JWT for one user id: the one npm start prints, or one a product's backend
// mints with POST /admin/tokens) and refuses anything else: the admin token never enters a
// browser's storage (docs/trust.md). Everything goes through the same JSON API as any
// client, called through hono/client with the types of the Worker's route definitions (so a
// changed route breaks this build, not the page); nothing is stored on the server. Built by
// worker/scripts/build-page.mjs, which checks that none of the Worker's code is bundled.
import { type ClientResponse, type InferResponseType, hc } from "hono/client";
import type { SuccessStatusCode } from "hono/utils/http-status";
import type { AppType } from "../src/api/app-type.ts";
import { MOVIELENS_GENRES } from "../../training/src/contract/genres.ts";
import { startAdmin } from "./admin.ts";

/** The 200 answer of an API call, as the Worker's route definitions declare it. */
type Answer<R> = R extends ClientResponse<infer T, infer S, infer _F> ? (S extends SuccessStatusCode ? T : never) : never;
type Recommendation = InferResponseType<typeof client.recs.$post, 200>["recommendations"][number];
type Movie = Pick<Recommendation, "movieId" | "title" | "year" | "genres">;
interface MyMovie extends Movie {
  liked: boolean;
}

const MINE_KEY = "edgerec.myMovies";
const TOKEN_KEY = "edgerec.userToken";
/** Where pages before user tokens kept "the token", which could be the admin's: removed on load. */
const LEGACY_TOKEN_KEY = "edgerec.token";

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

class ApiProblem extends Error {}

// ---- talking to the API ---------------------------------------------------------------------

/** The user id a user token names (its `sub`), or why the text is not a user token. */
function userTokenSubject(text: string): { user: number } | { problem: string } {
  const refuse =
    "That is not a user token. Sign in with a user token: the USER_TOKEN line npm start prints, or one your app's backend gets from POST /admin/tokens. Never enter the admin token in a browser.";
  const parts = text.split(".");
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return { problem: refuse };
  try {
    const payload = JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"))) as { sub?: unknown; exp?: unknown };
    const user = typeof payload.sub === "string" && /^[0-9]{1,9}$/.test(payload.sub) ? Number(payload.sub) : 0;
    if (user < 1 || typeof payload.exp !== "number") return { problem: refuse };
    if (payload.exp * 1000 <= Date.now()) return { problem: "This user token has expired: ask for a new one." };
    return { user };
  } catch {
    return { problem: refuse };
  }
}

/** The stored user token and its user, or null (never anything that is not a user token). */
function signedIn(): { token: string; user: number } | null {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  const subject = userTokenSubject(token);
  if ("problem" in subject) {
    localStorage.removeItem(TOKEN_KEY);
    return null;
  }
  return { token, user: subject.user };
}

let tokenPrompt: Promise<void> | null = null;

/**
 * Asks for a user token (a dialog) until one is given; concurrent 401s wait for the same answer.
 * Anything that is not a user token is refused in the dialog and never stored.
 */
function askForToken(why = ""): Promise<void> {
  tokenPrompt ??= new Promise<void>((resolve) => {
    const dialog = $<HTMLDialogElement>("token-dialog");
    const form = $<HTMLFormElement>("token-form");
    const input = $<HTMLInputElement>("token");
    const problem = $("token-problem");
    input.value = "";
    problem.textContent = why;
    problem.hidden = why === "";
    const onSubmit = (event: SubmitEvent): void => {
      const token = input.value.trim();
      const subject = userTokenSubject(token);
      if ("problem" in subject) {
        event.preventDefault(); // the dialog stays open; nothing is stored
        input.value = "";
        problem.textContent = subject.problem;
        problem.hidden = false;
        input.focus();
        return;
      }
      form.removeEventListener("submit", onSubmit);
      localStorage.setItem(TOKEN_KEY, token);
      renderAccount();
      tokenPrompt = null;
      resolve();
    };
    form.addEventListener("submit", onSubmit);
    dialog.showModal();
    input.focus();
  });
  return tokenPrompt;
}

/**
 * fetch for the API client: sends the token, shows the model version and the time taken, and on
 * a 401 asks for the token once and sends the request again with it.
 */
async function apiFetch(input: RequestInfo | URL, init: RequestInit = {}, retried = false): Promise<Response> {
  const path = new URL(String(input instanceof Request ? input.url : input), location.href).pathname;
  // /admin/* (the admin view) carries the admin token its caller typed, held in memory only: the
  // user token never replaces it, and a 401 there is the admin view's to report, not a sign-in
  const adminCall = path.startsWith("/admin/");
  const token = adminCall ? undefined : signedIn()?.token;
  const headers = new Headers(init.headers);
  if (token && !headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(input, { ...init, headers });
  } catch {
    throw new ApiProblem("The server could not be reached. Check your connection and try again.");
  }
  const ms = performance.now() - started;
  const version = res.headers.get("x-model-version");
  if (version) $("model").textContent = `Model: ${version}`;
  $("timing").textContent = `Last answer: ${ms.toFixed(0)} ms (${path})`;
  if (res.status === 401 && !retried && !adminCall) {
    let why = "";
    if (token) {
      // the Worker refused the stored token (expired, or signed with another secret): say why
      localStorage.removeItem(TOKEN_KEY);
      renderAccount();
      const message = (
        (await res
          .clone()
          .json()
          .catch(() => null)) as { message?: string } | null
      )?.message;
      why = `The server did not accept the stored user token${message ? `: ${message}` : ""}.`;
    }
    await askForToken(why);
    return apiFetch(input, init, true);
  }
  return res;
}

const client = hc<AppType>(location.origin, { fetch: apiFetch });

/** The answer of a call, or an ApiProblem with the API's own message. */
async function answer<R extends ClientResponse<unknown, number, "json">>(call: Promise<R>): Promise<Answer<R>> {
  const res = await call;
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: said below
  }
  if (!res.ok) {
    const message = (body as { message?: string } | null)?.message;
    throw new ApiProblem(message ? `${message} (HTTP ${res.status})` : `The server answered HTTP ${res.status}.`);
  }
  return body as Answer<R>;
}

function showError(err: unknown): void {
  const status = $("status");
  status.textContent = err instanceof ApiProblem ? err.message : `Something went wrong: ${err instanceof Error ? err.message : String(err)}`;
  status.hidden = false;
}

function clearError(): void {
  $("status").hidden = true;
}

/** Runs an action, showing any failure in the alert area instead of leaving a blank. */
async function guarded(action: () => Promise<void>): Promise<void> {
  try {
    await action();
    clearError();
  } catch (err) {
    showError(err);
  }
}

// ---- my movies ------------------------------------------------------------------------------

function loadMine(): MyMovie[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(MINE_KEY) ?? "[]") as MyMovie[];
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

let mine: MyMovie[] = loadMine();

function setMine(next: MyMovie[]): void {
  mine = next;
  localStorage.setItem(MINE_KEY, JSON.stringify(mine));
  renderMine();
  void guarded(refreshRecommendations);
}

function rate(movie: Movie, liked: boolean): void {
  setMine([...mine.filter((m) => m.movieId !== movie.movieId), { movieId: movie.movieId, title: movie.title, year: movie.year, genres: movie.genres, liked }]);
}

// ---- rendering ------------------------------------------------------------------------------

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", className = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function button(label: string, ariaLabel: string, onClick: () => void): HTMLButtonElement {
  const b = el("button", label);
  b.type = "button";
  b.setAttribute("aria-label", ariaLabel);
  b.addEventListener("click", onClick);
  return b;
}

function movieItem(m: Movie): HTMLLIElement {
  const li = el("li");
  li.dataset.movieId = String(m.movieId);
  li.append(el("span", m.title, "title"));
  if (m.genres.length) li.append(el("span", m.genres.join(", "), "meta"));
  return li;
}

function renderResults(results: Movie[]): void {
  const list = $("results");
  list.replaceChildren(
    ...results.map((m) => {
      const li = movieItem(m);
      li.append(
        button("Like", `Like ${m.title}`, () => rate(m, true)),
        button("Dislike", `Dislike ${m.title}`, () => rate(m, false)),
      );
      return li;
    }),
  );
  if (results.length === 0) list.append(el("li", "No title matches.", "hint"));
}

function renderMine(): void {
  $("mine").replaceChildren(
    ...mine.map((m) => {
      const li = movieItem(m);
      li.append(
        el("span", m.liked ? "liked" : "disliked", m.liked ? "badge" : "badge disliked"),
        button("Remove", `Remove ${m.title} from my movies`, () => setMine(mine.filter((x) => x.movieId !== m.movieId))),
      );
      return li;
    }),
  );
  $("mine-empty").hidden = mine.length > 0;
}

/** Whether the served model lists similar movies (from /health; assumed until it says not). */
let similarAvailable = true;

/** A thumbs-down: the movie is rated 1, so it is excluded from the next list (and never a positive). */
function renderRecommendations(listId: string, recs: Recommendation[], thumbsDown: (r: Recommendation) => void): void {
  $(listId).replaceChildren(
    ...recs.map((r) => {
      const li = movieItem(r);
      if (r.year !== null) li.append(el("span", String(r.year), "meta year"));
      if (r.because) li.append(el("span", `Because you liked ${r.because.title}`, "because"));
      if (similarAvailable) li.append(button("Similar", `Movies similar to ${r.title}`, () => void guarded(() => showSimilar(r))));
      li.append(button("👎 Not for me", `Not for me: ${r.title}`, () => thumbsDown(r)));
      return li;
    }),
  );
}

// ---- filters and variety --------------------------------------------------------------------

/** Genre chips: MovieLens's genres (the served catalogue has no list route; a name it lacks is answered with a 400 that names the valid ones, shown). */
const GENRES = MOVIELENS_GENRES;
/** Decades as year ranges; one at a time (the API takes one range). */
const DECADES: readonly { label: string; yearMin?: number; yearMax?: number }[] = [
  { label: "Before 1960", yearMax: 1959 },
  { label: "1960s", yearMin: 1960, yearMax: 1969 },
  { label: "1970s", yearMin: 1970, yearMax: 1979 },
  { label: "1980s", yearMin: 1980, yearMax: 1989 },
  { label: "1990s", yearMin: 1990, yearMax: 1999 },
  { label: "2000 on", yearMin: 2000 },
];

const chosen = { genres: new Set<string>(), decade: -1, diversity: 0 };

/** The chosen filters and variety as POST /recs takes them. */
function rulesBody(): { genres?: string[]; yearMin?: number; yearMax?: number; diversity?: number } {
  const decade = DECADES[chosen.decade];
  return {
    ...(chosen.genres.size > 0 ? { genres: [...chosen.genres] } : {}),
    ...(decade?.yearMin !== undefined ? { yearMin: decade.yearMin } : {}),
    ...(decade?.yearMax !== undefined ? { yearMax: decade.yearMax } : {}),
    ...(chosen.diversity > 0 ? { diversity: chosen.diversity } : {}),
  };
}

/** The same as GET /users/{id}/recs' query strings. */
function rulesQuery(): Record<string, string> {
  return Object.fromEntries(Object.entries(rulesBody()).map(([key, v]) => [key, Array.isArray(v) ? v.join(",") : String(v)]));
}

function chip(label: string, pressed: boolean, onClick: () => void): HTMLButtonElement {
  const b = el("button", label);
  b.type = "button";
  b.setAttribute("aria-pressed", String(pressed));
  b.addEventListener("click", onClick);
  return b;
}

/** Any change of filter or variety asks for both lists again. */
function rulesChanged(): void {
  renderChips();
  void guarded(refreshRecommendations);
  if (accountShown) void guarded(refreshUserRecs);
}

function renderChips(): void {
  $("genre-chips").replaceChildren(
    ...GENRES.map((g) =>
      chip(g, chosen.genres.has(g), () => {
        if (!chosen.genres.delete(g)) chosen.genres.add(g);
        rulesChanged();
      }),
    ),
  );
  $("decade-chips").replaceChildren(
    ...DECADES.map((d, i) =>
      chip(d.label, chosen.decade === i, () => {
        chosen.decade = chosen.decade === i ? -1 : i;
        rulesChanged();
      }),
    ),
  );
}

function startFilters(): void {
  renderChips();
  const slider = $<HTMLInputElement>("diversity");
  slider.addEventListener("change", () => {
    chosen.diversity = Number(slider.value);
    $("diversity-value").textContent = slider.value;
    rulesChanged();
  });
}

// ---- actions --------------------------------------------------------------------------------

let recsSerial = 0;

/**
 * Recommendations for "my movies" as they are now. `aria-busy` says a newer list is on its way
 * (to screen readers, and to the page test), and an older answer never replaces a newer one.
 */
async function refreshRecommendations(): Promise<void> {
  const serial = ++recsSerial;
  const list = $("recs");
  const liked = mine.filter((m) => m.liked);
  $("recs-hint").hidden = liked.length > 0;
  if (liked.length === 0) {
    list.replaceChildren();
    list.setAttribute("aria-busy", "false");
    return;
  }
  list.setAttribute("aria-busy", "true");
  try {
    const history = mine.map((m) => ({ movieId: m.movieId, rating: m.liked ? 5 : 1 }));
    const body = await answer(client.recs.$post({ json: { history, k: 10, ...rulesBody() } }));
    if (serial === recsSerial) renderRecommendations("recs", body.recommendations, (r) => rate(r, false));
  } finally {
    if (serial === recsSerial) list.setAttribute("aria-busy", "false");
  }
}

async function showSimilar(movie: Movie): Promise<void> {
  const body = await answer(client.movies[":id"].similar.$get({ param: { id: String(movie.movieId) }, query: { k: "8" } }));
  $("similar-title").textContent = `Similar to ${movie.title}`;
  $("similar").replaceChildren(...body.similar.map(movieItem));
  $("similar-section").hidden = false;
  $("similar-title").scrollIntoView({ block: "nearest" });
}

let searchTimer: ReturnType<typeof setTimeout> | undefined;
let searchSerial = 0;

function onSearchInput(): void {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const q = $<HTMLInputElement>("search").value.trim();
    const serial = ++searchSerial;
    if (q === "") {
      $("results").replaceChildren();
      return;
    }
    void guarded(async () => {
      const body = await answer(client.movies.$get({ query: { q, limit: "8" } }));
      if (serial === searchSerial) renderResults(body.results); // an older answer never overwrites a newer one
    });
  }, 200);
}

/** Who the page acts for, in the account section. */
function renderAccount(): void {
  const me = signedIn();
  $("account-who").textContent = me ? `Signed in as user ${me.user}.` : "Not signed in: the page asks for a user token when it needs one.";
  $("sign-out").hidden = me === null;
  if (!me) {
    $("user-recs").replaceChildren();
    $("user-ratings").replaceChildren();
  }
}

/** The signed-in user's own recommendations and stored ratings (signing in first if needed). */
async function showAccount(): Promise<void> {
  if (!signedIn()) await askForToken();
  const me = signedIn();
  if (!me) return;
  const id = String(me.user);
  const stored = await answer(client.users[":id"].ratings.$get({ param: { id } }));
  const movies = await Promise.all(
    stored.ratings.slice(0, 20).map(async (r) => ({ r, movie: (await answer(client.movies[":id"].$get({ param: { id: String(r.movieId) } }))).movie })),
  );
  $("user-ratings").replaceChildren(
    ...movies.map(({ r, movie }) => {
      const li = movieItem(movie);
      li.append(el("span", r.rating === null ? "watched" : `rated ${r.rating}`, "badge"));
      return li;
    }),
  );
  $("user-ratings-empty").hidden = stored.ratings.length > 0;
  accountShown = true;
  await refreshUserRecs();
}

/** Whether the signed-in user's own list is shown (filter changes then ask for it again too). */
let accountShown = false;
let userRecsSerial = 0;

/** The signed-in user's own list (GET /users/{id}/recs), with the chosen filters and variety. */
async function refreshUserRecs(): Promise<void> {
  const me = signedIn();
  if (!me) return;
  const serial = ++userRecsSerial;
  const list = $("user-recs");
  list.setAttribute("aria-busy", "true");
  try {
    const id = String(me.user);
    const body = await answer(client.users[":id"].recs.$get({ param: { id }, query: rulesQuery() }));
    if (serial !== userRecsSerial) return;
    // the thumbs-down stores a rating of 1 (the Worker excludes every rated movie), then the next list comes
    renderRecommendations(
      "user-recs",
      body.recommendations,
      (r) =>
        void guarded(async () => {
          await answer(client.users[":id"].ratings.$post({ param: { id }, json: { ratings: [{ movieId: r.movieId, rating: 1 }] } }));
          await refreshUserRecs();
        }),
    );
  } finally {
    if (serial === userRecsSerial) list.setAttribute("aria-busy", "false");
  }
}

function signOut(): void {
  accountShown = false;
  localStorage.removeItem(TOKEN_KEY);
  renderAccount();
}

function start(): void {
  $("search").addEventListener("input", onSearchInput);
  // a token a page before user tokens stored may be the admin's: it never stays in storage
  localStorage.removeItem(LEGACY_TOKEN_KEY);
  $("account-show").addEventListener("click", () => void guarded(showAccount));
  $("sign-out").addEventListener("click", signOut);
  renderAccount();
  renderMine();
  startFilters();
  // the admin view at /#admin: GET /admin/metrics with the admin token typed into its own field
  // (memory only, never storage), a table and a chart
  startAdmin({
    metrics: (query, adminToken) => answer(client.admin.metrics.$get({ query }, { headers: { authorization: `Bearer ${adminToken}` } })),
    guarded,
  });
  void guarded(async () => {
    const health = await answer(client.health.$get());
    $("model").textContent = `Model: ${health.model}`;
    // a model without item embeddings (EASE) has no similar movies: offer no button for them
    similarAvailable = health.similar !== false;
    await refreshRecommendations();
  });
}

start();
