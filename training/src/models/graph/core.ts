// What the embedding-model trainer needs from a graph model: parameter tensors with their
// gradients, a loss-and-gradient step on a batch of BPR triples, and the final embeddings.
import type { Block } from "../../engine/kernels.ts";
import type { Triples } from "../../engine/graph-ops.ts";
import type { Csr } from "../../protocol/csr.ts";
import type { FoldIn } from "../foldin.ts";

export interface TrainableCore {
  /** Tensors updated by Adam, and their gradient buffers (same lengths). */
  readonly params: Block<"f32">[];
  readonly grads: Block<"f32">[];
  /** Adam reads gradScales[k] * grads[k] as the gradient of params[k]. */
  readonly gradScales: number[];
  /** Number of user rows; item rows follow them in the final embeddings. */
  readonly users: number;
  readonly items: number;
  /** Width of the final embeddings. */
  readonly outDim: number;
  /** Overwrites grads with the gradient of the batch loss; returns its two parts. */
  lossAndGrad(t: Triples, count: number): { bpr: number; reg: number };
  /** Final embeddings of all users then all items (inference mode: no dropout). */
  finalEmbeddings(): Block<"f32">;
  /** Cores whose users can be folded in from a history (see foldin.ts). */
  foldIn?(train: Csr, egoWeight: number | "fit"): FoldIn;
}
