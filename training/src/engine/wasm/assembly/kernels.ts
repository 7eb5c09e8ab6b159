// WebAssembly SIMD kernels. Every hot loop of training and evaluation lives here; the host
// (../kernels.ts) owns the memory layout and exposes a typed API. Pointers are byte offsets
// into the single linear memory, matrices are row-major unless a stride says otherwise.
// No allocation happens in here: the host passes every buffer, scratch included.
// One file per family; this entry re-exports them, and its exports are the module's.

export * from "./dense";
export * from "./sparse";
export * from "./graph";
export * from "./ngcf";
export * from "./factor";
export * from "./itemitem";
