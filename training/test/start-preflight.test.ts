// npm start's checks before any data or training work: a busy port and unreachable data fail
// at once, with the option or variable that fixes them named.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { type Server, type Socket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DATASETS } from "../src/data/datasets.ts";
import { DatasetError } from "../src/data/fetch.ts";
import { checkDataSource, checkPortFree } from "../src/start/preflight.ts";

const spec = DATASETS["ml-100k"];
const servers: Server[] = [];
const sockets: Socket[] = [];

function listen(handler?: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    handler?.(socket);
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "edgerec-start-"));
}

describe("the port check", () => {
  it("names the busy port and --port", async () => {
    const port = await listen();
    await expect(checkPortFree(port)).rejects.toThrow(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*--port <n>`));
  });

  it("passes on a free port and leaves it free", async () => {
    const port = await listen();
    await new Promise<void>((r) => servers.pop()?.close(() => r()));
    await checkPortFree(port);
    await checkPortFree(port);
  });
});

describe("the data check", () => {
  it("finds a complete copy in the data folder without touching the network", async () => {
    const dataDir = tempDir();
    mkdirSync(join(dataDir, spec.name));
    for (const f of ["u.data", "u.item", "u.user"]) writeFileSync(join(dataDir, spec.name, f), "");
    // a probe URL nothing answers: it must not be asked
    const source = await checkDataSource(spec, { dataDir, probeUrl: "http://127.0.0.1:1/never", connectTimeoutMs: 100 });
    expect(source.kind).toBe("present");
  });

  it("takes MOVIELENS_DIR when it holds the dataset or its zip", async () => {
    const from = tempDir();
    writeFileSync(join(from, `${spec.name}.zip`), "");
    expect((await checkDataSource(spec, { dataDir: tempDir(), from })).kind).toBe("copy");
  });

  it("names MOVIELENS_DIR when it does not hold the dataset", async () => {
    const from = tempDir();
    mkdirSync(join(from, spec.name));
    writeFileSync(join(from, spec.name, "u.data"), "");
    const err = await checkDataSource(spec, { dataDir: tempDir(), from }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toMatch(/MOVIELENS_DIR.*holds neither ml-100k\/ with u\.data, u\.item, u\.user nor ml-100k\.zip/);
  });

  it("names MOVIELENS_DIR when the download host refuses the connection", async () => {
    const port = await listen();
    await new Promise<void>((r) => servers.pop()?.close(() => r()));
    const err = await checkDataSource(spec, { dataDir: tempDir(), probeUrl: `http://127.0.0.1:${port}/ml-100k.zip` }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/cannot be reached to download it \(ECONNREFUSED\).*MOVIELENS_DIR/);
  });

  it("gives up on a host that accepts but never answers after the connect timeout", async () => {
    const port = await listen(); // accepts the connection, sends nothing
    const err = await checkDataSource(spec, { dataDir: tempDir(), probeUrl: `http://127.0.0.1:${port}/ml-100k.zip`, connectTimeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/no answer within 0\.3 s.*MOVIELENS_DIR/);
  });

  it("counts any answer from the host as reachable", async () => {
    const port = await listen((socket) => socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"));
    expect((await checkDataSource(spec, { dataDir: tempDir(), probeUrl: `http://127.0.0.1:${port}/x.zip` })).kind).toBe("download");
  });
});

describe("npm start before any work", () => {
  const cli = join(import.meta.dirname, "../src/cli/start.ts");
  const run = (args: string[], env: Record<string, string | undefined>) =>
    spawnSync(process.execPath, ["--import", "tsx", cli, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });

  it("fails on a busy port before touching the data", async () => {
    const port = await listen();
    const dataDir = join(tempDir(), "data");
    const r = run(["--port", String(port), "--data-dir", dataDir, "--artifacts", tempDir()], { MOVIELENS_DIR: "/work/shared/datasets" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: port ${port} .*--port`));
    expect(existsSync(dataDir)).toBe(false);
  });

  it("fails with MOVIELENS_DIR named when it holds no data", async () => {
    const port = await listen();
    await new Promise<void>((r) => servers.pop()?.close(() => r()));
    const dataDir = join(tempDir(), "data");
    const r = run(["--port", String(port), "--dataset", "ml-100k", "--data-dir", dataDir, "--artifacts", tempDir()], { MOVIELENS_DIR: tempDir() });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: ml-100k is not in .* MOVIELENS_DIR/);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe("npm run dev -- --port", () => {
  it("takes the port from --port and names it when it is busy", async () => {
    const port = await listen();
    const cli = join(import.meta.dirname, "../src/cli/dev.ts");
    const r = spawnSync(process.execPath, ["--import", "tsx", cli, "--port", String(port)], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: port ${port} on 127\\.0\\.0\\.1 is already in use.*--port <n>`));
  });
});
