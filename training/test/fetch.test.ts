// The real download path (fetch, md5, unzip, rename) against an HTTP server on 127.0.0.1
// serving an archive built here.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATASETS, type DatasetSpec } from "../src/data/datasets.ts";
import { DatasetError, ensureDataset } from "../src/data/fetch.ts";

const files = {
  "ratings.dat": "1::1::5::978300760\n1::2::3::978302109\n2::1::4::0\n",
  "movies.dat": "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n",
  "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n",
  README: "test archive\n",
};
const zip = zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [`ml-1m/${k}`, Buffer.from(v)])));
const md5 = createHash("md5").update(zip).digest("hex");

let server: Server;
let base = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/ml-1m.zip") {
      res.writeHead(200, { "content-type": "application/zip", "content-length": zip.length });
      res.end(Buffer.from(zip));
    } else if (req.url === "/truncated.zip") {
      res.writeHead(200, { "content-type": "application/zip", "content-length": zip.length });
      res.write(Buffer.from(zip.subarray(0, zip.length >> 1)));
      setTimeout(() => res.socket?.destroy(), 20);
    } else if (req.url === "/stalls.zip") {
      // headers and a first chunk, then silence
      res.writeHead(200, { "content-type": "application/zip", "content-length": zip.length });
      res.write(Buffer.from(zip.subarray(0, 10)));
    } else {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

function spec(path: string, checksum = md5): DatasetSpec {
  return { ...DATASETS["ml-1m"], url: `${base}${path}`, md5: checksum };
}

function freshDataDir(): string {
  return mkdtempSync(join(tmpdir(), "edgerec-data-"));
}

describe("download", () => {
  it("downloads, verifies the md5 and extracts the dataset", async () => {
    const dataDir = freshDataDir();
    const dir = await ensureDataset(spec("/ml-1m.zip"), { dataDir });
    expect(dir).toBe(join(dataDir, "ml-1m"));
    expect(readFileSync(join(dir, "ratings.dat"), "utf8")).toBe(files["ratings.dat"]);
    expect(readdirSync(dataDir)).toEqual(["ml-1m"]);
  });

  const failures: [string, () => DatasetSpec, RegExp][] = [
    ["a wrong checksum", () => spec("/ml-1m.zip", "0".repeat(32)), /checksum mismatch .* expected 0{32}/],
    ["a truncated body", () => spec("/truncated.zip"), /broke off|truncated/],
    ["an HTTP error", () => spec("/missing.zip"), /answered HTTP 404/],
  ];
  for (const [what, make, message] of failures) {
    it(`fails clearly on ${what} and leaves nothing behind`, async () => {
      const dataDir = freshDataDir();
      await expect(ensureDataset(make(), { dataDir })).rejects.toThrow(DatasetError);
      await expect(ensureDataset(make(), { dataDir })).rejects.toThrow(message);
      expect(readdirSync(dataDir)).toEqual([]);
    });
  }

  it("abandons a download that stalls, with a message naming the stall", async () => {
    const dataDir = freshDataDir();
    process.env.EDGEREC_DOWNLOAD_IDLE_MS = "300";
    try {
      await expect(ensureDataset(spec("/stalls.zip"), { dataDir })).rejects.toThrow(/no data from .* for 0\.3 s; the download was abandoned/);
    } finally {
      delete process.env.EDGEREC_DOWNLOAD_IDLE_MS;
    }
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it("fails clearly when the server cannot be reached", async () => {
    const dataDir = freshDataDir();
    await expect(ensureDataset({ ...DATASETS["ml-1m"], url: "http://127.0.0.1:1/ml-1m.zip" }, { dataDir })).rejects.toThrow(/cannot reach/);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it("keeps a complete copy instead of downloading again", async () => {
    const dataDir = freshDataDir();
    await ensureDataset(spec("/ml-1m.zip"), { dataDir });
    // a spec whose download would fail proves nothing is fetched
    await expect(ensureDataset(spec("/missing.zip"), { dataDir })).resolves.toBe(join(dataDir, "ml-1m"));
  });
});

describe("copy from a local folder", () => {
  /** The fixture's own row counts stand in for the official ones. */
  const fixtureSpec: DatasetSpec = { ...DATASETS["ml-1m"], expected: { ratings: 3, movies: 2, users: 2 } };

  function folderWith(content: Record<string, string>): string {
    const from = freshDataDir();
    mkdirSync(join(from, "ml-1m"));
    for (const [k, v] of Object.entries(content)) writeFileSync(join(from, "ml-1m", k), v);
    return from;
  }

  it("copies the dataset files from <from>/<name>/ once they parse and their counts match", async () => {
    const dataDir = freshDataDir();
    const dir = await ensureDataset(fixtureSpec, { from: folderWith(files), dataDir });
    expect(readFileSync(join(dir, "movies.dat"), "utf8")).toBe(files["movies.dat"]);
  });

  it("refuses a folder whose row counts differ from the official dataset's, copying nothing", async () => {
    const dataDir = freshDataDir();
    await expect(ensureDataset(DATASETS["ml-1m"], { from: folderWith(files), dataDir })).rejects.toThrow(/holds 3 ratings, the official ml-1m has 1,000,209/);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it("refuses a folder with a malformed line, naming file and line, copying nothing", async () => {
    const dataDir = freshDataDir();
    const broken = { ...files, "ratings.dat": "1::1::5::978300760\n1::x::3::0\n2::1::4::0\n" };
    await expect(ensureDataset(fixtureSpec, { from: folderWith(broken), dataDir })).rejects.toThrow(/ratings\.dat:2: /);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it("takes <from>/<name>.zip after checking its md5", async () => {
    const from = freshDataDir();
    writeFileSync(join(from, "ml-1m.zip"), zip);
    const dir = await ensureDataset({ ...DATASETS["ml-1m"], md5 }, { from, dataDir: freshDataDir() });
    expect(readFileSync(join(dir, "ratings.dat"), "utf8")).toBe(files["ratings.dat"]);
    const dataDir = freshDataDir();
    await expect(ensureDataset(DATASETS["ml-1m"], { from, dataDir })).rejects.toThrow(/checksum mismatch .*not the official ml-1m archive/);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it("names the missing files when the folder is not a dataset", async () => {
    const from = freshDataDir();
    const dataDir = freshDataDir();
    await expect(ensureDataset(DATASETS["ml-100k"], { from, dataDir })).rejects.toThrow(/does not hold ml-100k \(missing u\.data, u\.item, u\.user\)/);
    expect(existsSync(join(dataDir, "ml-100k"))).toBe(false);
    expect(readdirSync(dataDir)).toEqual([]);
  });
});
