// D1 access for the loop: a failure is answered 503 loop_store_unavailable (the cause goes to
// the log), and the failures D1 documents as transient are tried again first.
import { ApiError } from "../errors.ts";
import { log } from "../log.ts";

const TRANSIENT = /Network connection lost|storage caused object to be reset|reset because its code was updated|SQLITE_BUSY|database is locked/i;
const RETRY_DELAYS_MS = [20, 80, 250];

/** Runs a D1 operation; every statement given here is safe to run twice (reads, idempotent writes). */
export async function loopDb<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (attempt < RETRY_DELAYS_MS.length && TRANSIENT.test(String((err as Error)?.message))) {
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt] * (0.5 + Math.random())));
        continue;
      }
      log.error("D1 error (loop)", err);
      throw new ApiError(
        503,
        "loop_store_unavailable",
        "the events and experiments store (D1) is not available right now; nothing was changed, try again shortly",
      );
    }
  }
}
