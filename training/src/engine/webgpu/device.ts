// Getting a WebGPU device in Node through Dawn (the npm package `webgpu`), with limits raised to
// what the adapter allows (graphs of tens of millions of edges need large storage bindings), and
// an error that says what to install when no adapter can be had.
import { create, globals } from "webgpu";
import { lavapipeInstallCommand, readOsRelease } from "../../util/vulkan-install.ts";

export interface GpuDevice {
  /** Dawn's instance: it must outlive the device (a collected instance stops its event loop). */
  gpu: GPU;
  device: GPUDevice;
  /** The adapter Dawn chose, in words (vendor, architecture, device, description). */
  adapter: string;
  /** Whether the adapter is a CPU implementation (lavapipe, llvmpipe, SwiftShader). */
  software: boolean;
}

/** Dawn's WebGPU constants (GPUBufferUsage, GPUMapMode), which Node has no globals for. */
export const webgpuGlobals = globals as unknown as { GPUBufferUsage: typeof GPUBufferUsage; GPUMapMode: typeof GPUMapMode };

export const NO_ADAPTER_HELP = [
  "No WebGPU adapter: Dawn found no Vulkan (or OpenGL ES) driver it can use.",
  "- On a machine with a GPU, install its Vulkan driver and loader (Debian: libvulkan1 and, for NVIDIA, the driver's Vulkan ICD,",
  "  /usr/share/vulkan/icd.d/nvidia_icd.json; in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics).",
  "- Without a GPU (tests, CI), install Mesa's software Vulkan driver, lavapipe (Mesa 23 or newer; .ci/run does this):",
  `  ${lavapipeInstallCommand(readOsRelease(), process.getuid?.() === 0)?.command ?? "mesa-vulkan-drivers and libvulkan1 on Debian and Ubuntu"}`,
  "Check with: node -e \"import('webgpu').then(async (w) => console.log(await w.create([]).requestAdapter()))\"",
].join("\n");

/** Dawn's options (e.g. "backend=vulkan", "adapter=NVIDIA"), from EDGEREC_WEBGPU_FLAGS (comma-separated). */
function dawnFlags(): string[] {
  return (process.env.EDGEREC_WEBGPU_FLAGS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function requestGpu(): Promise<GpuDevice> {
  const gpu = create(dawnFlags());
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  });
  const info = adapter.info;
  const name = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0).join(" / ");
  const software = /llvmpipe|lavapipe|swiftshader|software/i.test(name);
  return { gpu, device, adapter: name || "unnamed adapter", software };
}
