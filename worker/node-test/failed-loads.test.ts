// Failed loads leave memory flat even when the graph is the fault. onnxruntime-web keeps about a
// graph's size of its wasm memory each time it refuses one past the protobuf parse, and that memory
// never shrinks. So a graph whose checksum matches but that ORT would refuse is refused by the
// contract's check before any session exists (named, with the file), and a graph that passes the
// check but that ORT still refuses is handed to ORT once per isolate, never again. Runs the
// Worker's own loading code in Node with the real onnxruntime-web, counting the graphs ORT is given.
import onnxProto from "onnx-proto";
import * as realOrt from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import { BUNDLE_FILES } from "../../training/src/contract/artifacts.ts";
import { tinyBundle } from "../../training/test/tiny-bundle.ts";
import { memoryBucket, publishedObjects } from "../bench/memory-bucket.ts";
import { ApiError } from "../src/errors.ts";
import { rememberedRefusals } from "../src/graph-refusals.ts";
import { type Ort, disposeModel, loadVersion, readPointer } from "../src/model-load.ts";

realOrt.env.wasm.numThreads = 1;
const { onnx } = onnxProto;
const CREATED = "2026-12-01T00:00:00.000Z";

/** The real onnxruntime-web, counting the graphs handed to it. */
function countingOrt() {
  const calls = { create: 0 };
  const ort = {
    Tensor: realOrt.Tensor,
    InferenceSession: {
      create: (bytes: Uint8Array) => {
        calls.create++;
        return realOrt.InferenceSession.create(bytes);
      },
    },
  } as unknown as Ort;
  return { ort, calls };
}

const valid = tinyBundle("good", CREATED).files.get(BUNDLE_FILES.model)!;

/** model.onnx with one change, re-encoded (a valid protobuf). */
function changedModel(change: (m: ReturnType<typeof onnx.ModelProto.decode>) => void): Uint8Array {
  const m = onnx.ModelProto.decode(valid);
  change(m);
  return onnx.ModelProto.encode(m).finish();
}

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
    // TopK along an axis the scores do not have: the contract's check passes it, ORT does not
    const outOfRange = changedModel((m) => {
      const topK = m.graph!.node!.find((n) => n.opType === "TopK")!;
      topK.attribute!.find((a) => a.name === "axis")!.i = 7;
    });
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
});
