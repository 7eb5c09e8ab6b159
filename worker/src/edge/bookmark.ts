// D1 bookmarks as they travel between a client and the Worker (docs/edge.md): the request's
// `x-d1-bookmark` header (Cloudflare's convention) or, for the page, a cookie; the response
// carries the session's bookmark back in the same two places. A bookmark names a point in the
// database's commit history: a session started from it reads from a copy at least that fresh.
import { ApiError } from "../errors.ts";

export const BOOKMARK_HEADER = "x-d1-bookmark";
export const BOOKMARK_COOKIE = "edgerec_d1_bookmark";
/**
 * How long the page keeps the bookmark of its last write. Past this, any replica has long caught
 * up (D1's replica lag is seconds at worst), so the page reads unconstrained again.
 */
export const BOOKMARK_COOKIE_SECONDS = 300;

/**
 * D1's bookmarks are hex fields joined by dashes (locally `00000000-0000000a-00000000-` and 32
 * hex digits); their order as strings is their order in the commit history, which is how D1's
 * own session code keeps the newest one.
 */
const BOOKMARK = /^[0-9a-f]{8}(-[0-9a-f]{8,64}){1,8}$/i;

export function isBookmark(value: string): boolean {
  return value.length <= 200 && BOOKMARK.test(value);
}

/** The newer of two bookmarks (null: none). */
export function newer(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a >= b ? a : b;
}

/** Whether a copy at `position` has every commit `required` names. */
export function covers(position: string | null, required: string | null): boolean {
  return required === null || (position !== null && position >= required);
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The bookmark a request asks to read after: the header's (a malformed one is a 400, since the
 * client would otherwise silently lose read-your-writes), else the cookie's (a malformed cookie
 * is ignored: a browser may hold anything), else null.
 */
export function requestBookmark(headers: { get(name: string): string | null }): string | null {
  const sent = headers.get(BOOKMARK_HEADER);
  if (sent !== null && sent !== "") {
    if (!isBookmark(sent))
      throw new ApiError(
        400,
        "bad_request",
        `${BOOKMARK_HEADER}: "${sent.slice(0, 80)}" is not a D1 bookmark; send back exactly the value a previous answer's ${BOOKMARK_HEADER} header carried, or leave the header out`,
      );
    return sent;
  }
  const kept = cookie(headers.get("cookie") ?? undefined, BOOKMARK_COOKIE);
  return kept !== undefined && isBookmark(kept) ? kept : null;
}

/** The Set-Cookie value that hands the page its last write's bookmark (Secure over https). */
export function bookmarkCookie(bookmark: string, https: boolean): string {
  return `${BOOKMARK_COOKIE}=${bookmark}; Path=/; Max-Age=${BOOKMARK_COOKIE_SECONDS}; HttpOnly; SameSite=Lax${https ? "; Secure" : ""}`;
}
