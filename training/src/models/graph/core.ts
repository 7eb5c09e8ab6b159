// What the embedding-model trainer needs from a graph model: parameter tensors with their
// gradients, a loss-and-gradient step on a batch of BPR triples, and the final embeddings.
// Cores hold backend tensors only; they run on whichever GraphBackend built them.
import type { LossSums, Tensor, Triples } from "../../engine/backend.ts";
import type { Csr } from "../../protocol/csr.ts";
import type { FoldIn } from "../foldin.ts";

export interface TrainableCore {
  /** Tensors updated by Adam, and their gradient buffers (same lengths). */
  readonly params: Tensor[];
  readonly grads: Tensor[];
  /** Adam reads gradScales[k] * grads[k] as the gradient of params[k]. */
  readonly gradScales: number[];
  /** Number of user rows; item rows follow them in the final embeddings. */
  readonly users: number;
  readonly items: number;
  /** Width of the final embeddings. */
  readonly outDim: number;
  /** Overwrites grads with the gradient of the batch's mean loss (its sums join the backend's). */
  lossAndGrad(t: Triples): void;
  /** The epoch's loss parts (sums over triples) from the backend's sums. */
  losses(sums: LossSums): { bpr: number; reg: number };
  /** Final embeddings of all users then all items (inference mode: no dropout). */
  finalEmbeddings(): Tensor;
  /** Host copies of what fold-in needs, taken once training has ended. */
  snapshot?(): Promise<void>;
  /** Cores whose users can be folded in from a history (see foldin.ts), after `snapshot`. */
  foldIn?(train: Csr, egoWeight: number | "fit"): FoldIn;
}
