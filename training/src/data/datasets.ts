// The MovieLens datasets the project knows: where GroupLens publishes them, how to verify
// the archive, and which files a usable copy must contain.

export type DatasetName = "ml-1m" | "ml-100k";
export const DATASET_NAMES: readonly DatasetName[] = ["ml-1m", "ml-100k"];

export interface DatasetSpec {
  name: DatasetName;
  url: string;
  md5: string;
  /** Files (relative to the dataset folder) that a complete copy holds. */
  files: { ratings: string; movies: string; users: string };
  /** Extra files copied along (genre names for ML-100K, the README with the licence). */
  extra: string[];
  /** Rows of the official files: a copy from a folder (no archive md5 to check) must match them. */
  expected?: { ratings: number; movies: number; users: number };
}

export const DATASETS: Record<DatasetName, DatasetSpec> = {
  "ml-1m": {
    name: "ml-1m",
    url: "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    md5: "c4d9eecfca2ab87c1945afe126590906",
    files: { ratings: "ratings.dat", movies: "movies.dat", users: "users.dat" },
    extra: ["README"],
    expected: { ratings: 1_000_209, movies: 3_883, users: 6_040 },
  },
  "ml-100k": {
    name: "ml-100k",
    url: "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    md5: "0e33842e24a9c977be4e0107933c0723",
    files: { ratings: "u.data", movies: "u.item", users: "u.user" },
    extra: ["u.genre", "README"],
    expected: { ratings: 100_000, movies: 1_682, users: 943 },
  },
};

export function datasetSpec(name: string): DatasetSpec {
  if (!(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown dataset "${name}": choose one of ${DATASET_NAMES.join(", ")}`);
  }
  return DATASETS[name as DatasetName];
}

export function requiredFiles(spec: DatasetSpec): string[] {
  return [spec.files.ratings, spec.files.movies, spec.files.users];
}
