// From a dataset name to a split: fetch if needed, parse, apply the protocol, write the split
// and the catalogue a bundle serves beside it (the last step that reads the raw data).
import { type CustomDataOptions, loadCustomDataset } from "../data/custom.ts";
import { datasetSpec } from "../data/datasets.ts";
import { ensureDataset } from "../data/fetch.ts";
import { type Dataset, loadDataset } from "../data/parse.ts";
import { type Split, buildSplit, protocolSpec } from "../protocol/protocols.ts";
import { type Catalogue, catalogueOf } from "../export/catalogue.ts";
import { writeSplit } from "./split-files.ts";

export interface PrepareOptions {
  dataset: string;
  /** A user's own ratings file, used instead of `dataset`. */
  custom?: CustomDataOptions | undefined;
  /** A dataset already in memory (generated test data), used instead of `dataset`. */
  data?: Dataset;
  protocol: string;
  seed: number;
  from?: string | undefined;
  dataDir?: string;
  artifactsDir?: string;
  log?: (line: string) => void;
}

export interface Prepared {
  data: Dataset;
  split: Split;
  catalogue: Catalogue;
  timings: { parse_seconds: number; split_seconds: number };
}

export async function prepare(opts: PrepareOptions): Promise<Prepared> {
  const log = opts.log ?? (() => {});
  const protocol = protocolSpec(opts.protocol);
  let t = performance.now();
  let data: Dataset;
  if (opts.data) {
    data = opts.data;
  } else if (opts.custom) {
    data = await loadCustomDataset(opts.custom);
  } else {
    const spec = datasetSpec(opts.dataset);
    const dir = await ensureDataset(spec, { from: opts.from, dataDir: opts.dataDir ?? "data", log });
    t = performance.now();
    data = await loadDataset(spec, dir);
  }
  const parseSeconds = (performance.now() - t) / 1000;
  const merged = data.duplicatesMerged ?? 0;
  log(
    `${data.name}: parsed ${data.ratings.length.toLocaleString("en-US")} ratings, ${data.movies.length} movies${data.users.length ? `, ${data.users.length} users` : ""} in ${parseSeconds.toFixed(2)} s; ${merged} duplicate (user, movie) rows merged`,
  );
  t = performance.now();
  const split = buildSplit(data, protocol, opts.seed);
  const splitSeconds = (performance.now() - t) / 1000;
  const c = split.counts;
  log(
    `protocol ${protocol.name} (seed ${opts.seed}): ${c.interactions.toLocaleString("en-US")} interactions, ${c.users} users, ${c.items} items; train ${c.train}, valid ${c.valid}, test ${c.test} (${splitSeconds.toFixed(2)} s)`,
  );
  const catalogue = catalogueOf(data, split);
  if (opts.artifactsDir) log(`split written to ${writeSplit(split, catalogue, opts.artifactsDir, data.keys)}`);
  return { data, split, catalogue, timings: { parse_seconds: parseSeconds, split_seconds: splitSeconds } };
}
