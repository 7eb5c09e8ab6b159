// What a run checks before any work: every model it trains has kernels on the device.
import type { Device } from "../engine/backend.ts";
import { MODELS } from "../models/registry.ts";
import type { ModelFactory } from "../models/recommender.ts";

/** Fails before any work when a model has no kernels on the device (never a silent CPU fallback). */
export function checkDevice(factories: readonly ModelFactory[], device: Device): void {
  const unsupported = factories.filter((f) => !(f.devices ?? ["cpu"]).includes(device));
  if (unsupported.length === 0) return;
  const covered = MODELS.filter((f) => (f.devices ?? ["cpu"]).includes(device)).map((f) => f.name);
  throw new Error(
    `--device ${device}: ${unsupported.map((f) => f.name).join(", ")} train${unsupported.length === 1 ? "s" : ""} on the CPU only (the ${device} backend covers ${covered.join(", ")}). Train ${unsupported.length === 1 ? "it" : "them"} with --device cpu, or leave ${unsupported.length === 1 ? "it" : "them"} out of --model.`,
  );
}
