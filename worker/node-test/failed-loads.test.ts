// Failed loads leave memory flat even when the graph is the fault. onnxruntime-web keeps about a
// graph's size of its wasm memory each time it refuses one past the protobuf parse, and that memory
// never shrinks. So a graph whose checksum matches but that ORT would refuse is refused by the
// contract's check before any session exists (named, with the file); a graph that passes the check
// but that ORT still refuses reaches ORT only as its skeleton (a few kilobytes), once per isolate.
// Runs the Worker's own loading code in Node with the real onnxruntime-web, counting what ORT is
// given, and reads ORT's wasm memory.
import onnxProto from "onnx-proto";
import * as realOrt from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import { BUNDLE_FILES } from "../../training/src/contract/artifacts.ts";
import { exportedGraphs } from "../../training/test/exported-graphs.ts";
import { tinyBundle } from "../../training/test/tiny-bundle.ts";
import { memoryBucket, publishedObjects } from "../bench/memory-bucket.ts";
import { ApiError } from "../src/errors.ts";
import { rememberedRefusals, rememberingRefusals } from "../src/graph-refusals.ts";
import { graphSkeleton } from "../src/graph-skeleton.ts";
import { type Ort, disposeModel, loadVersion, readPointer } from "../src/model-load.ts";
import { ortWasmBytes, watchOrtMemory } from "../bench/ort-memory.ts";

// ORT's linear memory, caught when ORT instantiates its wasm (on the first session)
watchOrtMemory();

realOrt.env.wasm.numThreads = 1;
const { onnx } = onnxProto;
const CREATED = "2026-12-01T00:00:00.000Z";

/** The real onnxruntime-web, counting the graphs handed to it (and their sizes). */
function countingOrt() {
  const calls = { create: 0, bytes: [] as number[] };
  const ort = {
    Tensor: realOrt.Tensor,
    InferenceSession: {
      create: (bytes: Uint8Array) => {
        calls.create++;
        calls.bytes.push(bytes.byteLength);
        return realOrt.InferenceSession.create(bytes);
      },
    },
  } as unknown as Ort;
  return { ort, calls };
}

type Model = ReturnType<typeof onnx.ModelProto.decode>;
const reencoded = (bytes: Uint8Array, change: (m: Model) => void): Uint8Array => {
  const m = onnx.ModelProto.decode(bytes);
  change(m);
  return onnx.ModelProto.encode(m).finish();
};
/** TopK along an axis the scores do not have: the contract's check passes it, ORT does not. */
const topKOutOfRange = (m: Model): void => {
  m.graph!.node!.find((n) => n.opType === "TopK")!.attribute!.find((a) => a.name === "axis")!.i = 7;
};

const valid = tinyBundle("good", CREATED).files.get(BUNDLE_FILES.model)!;

/** model.onnx with one change, re-encoded (a valid protobuf). */
const changedModel = (change: (m: Model) => void): Uint8Array => reencoded(valid, change);

/** A published bundle whose model.onnx is `model`, its manifest's checksum matching. */
function published(version: string, model: Uint8Array) {
  const { files } = tinyBundle(version, CREATED, { replace: { [BUNDLE_FILES.model]: model } });
  return memoryBucket(publishedObjects(version, files), true);
}

async function load(bucket: ReturnType<typeof published>, ort: Ort) {
  return loadVersion(bucket, await readPointer(bucket), ort);
}

const garbage = Uint8Array.from({ length: valid.byteLength }, (_, i) => (i * 2654435761) >>> 24);

describe("failed loads of a graph that is the fault", () => {
  it("refuses a checksummed graph ORT would refuse before ORT sees it, saying why", async () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ["random bytes", garbage, /model\.onnx: not an ONNX graph/],
      ["a truncated graph", valid.subarray(0, valid.byteLength >> 1), /model\.onnx: not an ONNX graph/],
      ["an unknown operator", changedModel((m) => (m.graph!.node!.find((n) => n.opType === "TopK")!.opType = "TopX")), /model\.onnx uses the operator "TopX"/],
      [
        "wrong input names",
        changedModel((m) => {
          m.graph!.input![0].name = "usr";
          for (const n of m.graph!.node!) n.input = n.input!.map((i) => (i === "user" ? "usr" : i));
        }),
        /model\.onnx lacks the input user/,
      ],
      ["another opset", changedModel((m) => (m.opsetImport![0].version = 99)), /model\.onnx imports default operator set 99/],
    ];
    for (const [what, bytes, reason] of cases) {
      const { ort, calls } = countingOrt();
      const refused = await load(published(`bad-${what.replaceAll(" ", "-")}`, bytes), ort).catch((e: unknown) => e);
      expect(refused, what).toBeInstanceOf(ApiError);
      expect((refused as ApiError).message, what).toMatch(reason);
      expect((refused as ApiError).message, what).toMatch(/is not a servable bundle/);
      expect(calls.create, what).toBe(0);
    }
  });

  it("hands ORT a graph it refuses once, then refuses the same bytes without it, whatever publication carries them", async () => {
    const outOfRange = changedModel(topKOutOfRange);
    const { ort, calls } = countingOrt();
    const before = rememberedRefusals();
    await expect(load(published("axis-1", outOfRange), ort)).rejects.toThrow(/Can't create a session/);
    expect(calls.create).toBe(1);
    expect(rememberedRefusals()).toBe(before + 1);
    for (let n = 2; n <= 20; n++) await expect(load(published(`axis-${n}`, outOfRange), ort)).rejects.toThrow(/refused these bytes before/);
    expect(calls.create).toBe(1);
    // other bytes still reach ORT, and a good bundle still loads
    const model = await load(published("good", valid), ort);
    expect(calls.create).toBe(3);
    expect(model.version).toBe("good");
    await disposeModel(model);
  });

  it("tries a skeleton of each exported graph that ORT builds as it builds the graph", async () => {
    for (const [what, graph] of exportedGraphs(40, 8)) {
      const skeleton = graphSkeleton(graph);
      const whole = await realOrt.InferenceSession.create(graph);
      if (skeleton) {
        expect(skeleton.byteLength, what).toBeLessThan(graph.byteLength);
        const trial = await realOrt.InferenceSession.create(skeleton);
        // the same inputs and outputs, and the tables made inputs besides
        expect(trial.inputNames, what).toEqual(expect.arrayContaining([...whole.inputNames]));
        expect(trial.inputNames.length, what).toBeGreaterThan(whole.inputNames.length);
        expect(trial.outputNames, what).toEqual(whole.outputNames);
        await trial.release();
      }
      await whole.release();
    }
  });

  it("hands ORT only the skeleton of a large graph it refuses, and keeps ORT's memory flat over 100 such graphs", async () => {
    const [, large] = exportedGraphs(2000, 32)[0];
    const { ort, calls } = countingOrt();
    const guarded = rememberingRefusals(ort);
    // warm: ORT instantiated and grown to what the good graph needs
    await (await guarded.InferenceSession.create(large)).release();
    const before = ortWasmBytes();
    calls.bytes.length = 0;
    for (let n = 0; n < 100; n++) {
      // distinct bytes each time (no refusal remembered helps): only the skeletons reach ORT
      const refused = reencoded(large, (m) => {
        topKOutOfRange(m);
        m.graph!.docString = `broken graph ${n}`;
      });
      await expect(guarded.InferenceSession.create(refused)).rejects.toThrow(/Invalid value for attribute axis/);
    }
    expect(calls.bytes.length).toBe(100);
    expect(Math.max(...calls.bytes)).toBeLessThan(4096);
    // each graph is 0.25 MB: handed over whole, the 100 kept 25 MB or more of ORT's memory
    expect(ortWasmBytes() - before).toBeLessThan(2 * 2 ** 20);
  });

  it("remembers no refusal for want of memory: the same graph may load later", async () => {
    let calls = 0;
    const starved = {
      Tensor: realOrt.Tensor,
      InferenceSession: {
        create: async () => {
          calls++;
          throw new Error("Can't create a session. ERROR_CODE: 6, ERROR_MESSAGE: std::bad_alloc");
        },
      },
    } as unknown as Ort;
    const guarded = rememberingRefusals(starved);
    const before = rememberedRefusals();
    for (let n = 0; n < 3; n++) await expect(guarded.InferenceSession.create(valid)).rejects.toThrow(/bad_alloc/);
    expect(calls).toBe(3);
    expect(rememberedRefusals()).toBe(before);
  });
});
