// The MovieLens datasets the project knows: where GroupLens publishes them, how to verify
// the archive, which files a usable copy must contain, and in which format they are written.

export type DatasetName = "ml-1m" | "ml-100k" | "ml-20m" | "ml-25m" | "ml-32m" | "synthetic-ml-32m";
export const DATASET_NAMES: readonly DatasetName[] = ["ml-1m", "ml-100k", "ml-20m", "ml-25m", "ml-32m", "synthetic-ml-32m"];

/**
 * dat: ML-1M's `::`-separated files; u-data: ML-100K's tab-separated u.data and `|` u.item;
 * csv: ML-20M and later (ratings.csv with half stars, movies.csv with quoted titles).
 */
export type DatasetFormat = "dat" | "u-data" | "csv";

export interface DatasetSpec {
  name: DatasetName;
  format: DatasetFormat;
  /** The official archive; null for a dataset made here (the synthetic one). */
  url: string | null;
  /**
   * The archive's md5 when pinned here; null: the checksum GroupLens publishes beside the
   * archive (`<url>.md5`) is downloaded and checked instead.
   */
  md5: string | null;
  /** Files (relative to the dataset folder) that a complete copy holds; CSV datasets have no users file. */
  files: { ratings: string; movies: string; users: string | null };
  /** Extra files copied along (genre names for ML-100K, the README with the licence). */
  extra: string[];
  /** Rows of the official files: a copy from a folder (no archive md5 to check) must match them. */
  expected?: { ratings: number; movies: number; users: number };
}

const csvFiles = { ratings: "ratings.csv", movies: "movies.csv", users: null };
const grouplens = (name: string): string => `https://files.grouplens.org/datasets/movielens/${name}.zip`;

export const DATASETS: Record<DatasetName, DatasetSpec> = {
  "ml-1m": {
    name: "ml-1m",
    format: "dat",
    url: grouplens("ml-1m"),
    md5: "c4d9eecfca2ab87c1945afe126590906",
    files: { ratings: "ratings.dat", movies: "movies.dat", users: "users.dat" },
    extra: ["README"],
    expected: { ratings: 1_000_209, movies: 3_883, users: 6_040 },
  },
  "ml-100k": {
    name: "ml-100k",
    format: "u-data",
    url: grouplens("ml-100k"),
    md5: "0e33842e24a9c977be4e0107933c0723",
    files: { ratings: "u.data", movies: "u.item", users: "u.user" },
    extra: ["u.genre", "README"],
    expected: { ratings: 100_000, movies: 1_682, users: 943 },
  },
  // The counts are those of GroupLens's README for each release (users are the distinct
  // userIds of ratings.csv: these releases have no users file).
  "ml-20m": {
    name: "ml-20m",
    format: "csv",
    url: grouplens("ml-20m"),
    md5: null,
    files: csvFiles,
    extra: ["README.txt"],
    expected: { ratings: 20_000_263, movies: 27_278, users: 138_493 },
  },
  "ml-25m": {
    name: "ml-25m",
    format: "csv",
    url: grouplens("ml-25m"),
    md5: null,
    files: csvFiles,
    extra: ["README.txt"],
    expected: { ratings: 25_000_095, movies: 62_423, users: 162_541 },
  },
  "ml-32m": {
    name: "ml-32m",
    format: "csv",
    url: grouplens("ml-32m"),
    md5: null,
    files: csvFiles,
    extra: ["README.txt"],
    expected: { ratings: 32_000_204, movies: 87_585, users: 200_948 },
  },
  // ML-32M's shape, generated here (npm run data -- --synthetic ml-32m): for scale runs only;
  // quality figures on it mean nothing.
  "synthetic-ml-32m": {
    name: "synthetic-ml-32m",
    format: "csv",
    url: null,
    md5: null,
    files: csvFiles,
    extra: [],
  },
};

export function datasetSpec(name: string): DatasetSpec {
  if (!(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown dataset "${name}": choose one of ${DATASET_NAMES.join(", ")}`);
  }
  return DATASETS[name as DatasetName];
}

export function requiredFiles(spec: DatasetSpec): string[] {
  return [spec.files.ratings, spec.files.movies, ...(spec.files.users ? [spec.files.users] : [])];
}
