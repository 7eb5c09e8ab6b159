// Locates the real MovieLens copies for tests that need them. Under CI (where
// ../shared/datasets always exists) a missing dataset is an error; elsewhere those tests are
// skipped with a visible message.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { DATASETS, type DatasetName, requiredFiles } from "../src/data/datasets.ts";

export function realDatasetDir(name: DatasetName): string | null {
  const root = resolve(process.env.MOVIELENS_DIR ?? "../shared/datasets");
  const dir = join(root, name);
  if (requiredFiles(DATASETS[name]).every((f) => existsSync(join(dir, f)))) return dir;
  if (process.env.CI) throw new Error(`CI requires the real ${name} dataset at ${dir} (set MOVIELENS_DIR)`);
  console.warn(`SKIPPED: tests on the real ${name} need it at ${dir}; set MOVIELENS_DIR to a folder holding ${name}/`);
  return null;
}
