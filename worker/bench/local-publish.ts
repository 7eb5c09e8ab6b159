// The bundle in `dir` published to the local R2 in `persist` (a bench's own wrangler dev state),
// replacing whatever version is there.
import { publishBundle } from "../../training/src/publish/publish.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { localTarget } from "../../training/src/publish/targets.ts";

export async function publishToLocalR2(dir: string, persist: string): Promise<void> {
  const target = await localTarget("MODELS", persist);
  try {
    await publishBundle(readBundle(dir), target, { force: true });
  } finally {
    await target.close();
  }
}
