// The symmetric normalized bipartite adjacency D^-1/2 A D^-1/2 of the TRAIN interactions.
// Nodes 0..users-1 are users, users..users+items-1 are items.
import type { Csr } from "../../protocol/csr.ts";

export interface Adjacency extends Csr {
  values: Float32Array;
}

export function normalizedAdjacency(train: Csr): Adjacency {
  const users = train.rows;
  const items = train.cols;
  const nodes = users + items;
  const nnz = train.indptr[users];
  const itemDeg = new Int32Array(items);
  for (let p = 0; p < nnz; p++) itemDeg[train.indices[p]]++;

  const indptr = new Int32Array(nodes + 1);
  for (let u = 0; u < users; u++) indptr[u + 1] = indptr[u] + (train.indptr[u + 1] - train.indptr[u]);
  for (let i = 0; i < items; i++) indptr[users + i + 1] = indptr[users + i] + itemDeg[i];
  const indices = new Int32Array(2 * nnz);
  const values = new Float32Array(2 * nnz);
  const fill = indptr.slice(users, nodes); // next free slot of each item row
  for (let u = 0; u < users; u++) {
    const du = train.indptr[u + 1] - train.indptr[u];
    for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) {
      const i = train.indices[p];
      const w = 1 / Math.sqrt(du * itemDeg[i]);
      indices[p] = users + i; // user rows: the train row, shifted to item node ids (stays sorted)
      values[p] = w;
      const q = fill[i]++; // item rows: users in ascending order, since u ascends
      indices[q] = u;
      values[q] = w;
    }
  }
  return { rows: nodes, cols: nodes, indptr, indices, values };
}
