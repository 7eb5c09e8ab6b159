// Publishing to the local R2 and D1 that `wrangler dev` serves from (.wrangler/state, or its
// --persist-to folder): what `npm run publish -- --local` does, and what anything else that
// publishes locally (start, a retrain, a rollback) calls, so that each one checks migrations
// read-only and retries a busy file the same way while a Worker serves.
import { migrateLocal } from "./d1-migrations.ts";
import { type Bundle, type PublishResult, publishBundle } from "./publish.ts";
import { localTarget } from "./targets.ts";

export interface LocalPublishOptions {
  /** The folder `wrangler dev --persist-to` was given (default .wrangler/state). */
  persistTo?: string;
  /** Publish even when an older version than the served one (a deliberate rollback). */
  force?: boolean;
  log?: (line: string) => void;
}

export async function publishLocal(bundle: Bundle, opts: LocalPublishOptions = {}): Promise<PublishResult & { describe: string }> {
  const log = opts.log ?? (() => {});
  // a per_user "d1" bundle writes to the snapshots table (migration 0002): the migrations first,
  // applied only when one is pending (the check only reads the file)
  const applied = await migrateLocal({ persistTo: opts.persistTo, log });
  if (applied.length > 0) log(`local D1 migrated: ${applied.join(", ")}`);
  const target = await localTarget("MODELS", opts.persistTo, log);
  try {
    const result = await publishBundle(bundle, target, { log, force: opts.force });
    return { ...result, describe: target.describe };
  } finally {
    await target.close();
  }
}
