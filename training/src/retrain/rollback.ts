// Rollback: serve again the version served before the current one. Its files are still in R2
// (publishing never deletes a version's files); they are checked as a publish checks them, its
// per-user rows (if any) reloaded into D1, and the pointer, one object, written last with the
// same compare-and-swap as any publish: a reader sees the old version or the new one, never a
// mix, and a publish racing the rollback makes it fail rather than be silently undone.
import { publishBundle } from "../publish/publish.ts";
import { previousVersion, readRecords, recordStatement } from "./records.ts";
import { type Store, bundleFromR2, readPointer } from "./store.ts";

export async function rollback(store: Store, opts: { actor: string; log?: (line: string) => void }): Promise<{ from: string; to: string }> {
  const log = opts.log ?? (() => {});
  const records = await readRecords(store.query);
  const target = await store.openTarget();
  try {
    const current = (await readPointer(target))?.version ?? "";
    const previous = previousVersion(records, current);
    if (!previous)
      throw new Error(
        `no version to roll back to: ${store.describe} records no publish before ${current || "the current one"} (only retrain and rollback record publishes)`,
      );
    log(`rolling back from ${current || "nothing"} to ${previous}`);
    const bundle = await bundleFromR2(target, previous);
    await store.migrate();
    if (!target.snapshots) throw new Error(`${target.describe} has no D1 beside it to record the rollback in; nothing was changed`);
    // force: the previous version is older than the served one, on purpose
    await publishBundle(bundle, target, { log, force: true });
    await target.snapshots.execute([
      recordStatement({
        version: previous,
        action: "rollback",
        previous: current || null,
        metrics: bundle.manifest.metrics,
        window: { from: current },
        actor: opts.actor,
        at: Date.now(),
      }),
    ]);
    return { from: current, to: previous };
  } finally {
    await target.close();
  }
}
