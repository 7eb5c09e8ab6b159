// Compressed sparse rows: the one interaction-matrix type every stage shares
// (rows are internal user indices, columns internal item indices, sorted within a row).

export interface Csr {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  /** Optional per-entry values (the explicit 1-5 rating for the train matrix). */
  values?: Float32Array;
}

/**
 * Builds a CSR from (row, col[, value]) triples; duplicates are kept as given (in input order).
 * Linear in the entries: the triples are visited in column order (a counting sort), so every
 * row fills already sorted, which matters at tens of millions of entries.
 */
export function csrFromTriples(rows: number, cols: number, r: ArrayLike<number>, c: ArrayLike<number>, v?: ArrayLike<number>): Csr {
  const n = r.length;
  const indptr = new Int32Array(rows + 1);
  for (let i = 0; i < n; i++) indptr[r[i] + 1]++;
  for (let i = 0; i < rows; i++) indptr[i + 1] += indptr[i];
  const fill = indptr.slice(0, rows);
  const indices = new Int32Array(n);
  const values = v ? new Float32Array(n) : undefined;
  let inRange = true;
  for (let i = 0; i < n && inRange; i++) inRange = c[i] >= 0 && c[i] < cols;
  const visit = inRange ? columnOrder(c, cols) : null;
  for (let k = 0; k < n; k++) {
    const i = visit ? visit[k] : k;
    const at = fill[r[i]]++;
    indices[at] = c[i];
    if (values) values[at] = v![i];
  }
  // columns outside 0..cols-1 (a positional index) could not be counted: sort what needs it
  if (!visit) sortRows({ rows, cols, indptr, indices, values });
  return values ? { rows, cols, indptr, indices, values } : { rows, cols, indptr, indices };
}

/** The entries' positions ordered by column, stable (a counting sort). */
function columnOrder(c: ArrayLike<number>, cols: number): Int32Array {
  const start = new Int32Array(cols + 1);
  for (let i = 0; i < c.length; i++) start[c[i] + 1]++;
  for (let j = 0; j < cols; j++) start[j + 1] += start[j];
  const order = new Int32Array(c.length);
  for (let i = 0; i < c.length; i++) order[start[c[i]]++] = i;
  return order;
}

function sortRows(m: Csr): void {
  for (let r = 0; r < m.rows; r++) {
    const s = m.indptr[r];
    const e = m.indptr[r + 1];
    if (e - s < 2) continue;
    let sorted = true;
    for (let p = s + 1; p < e && sorted; p++) sorted = m.indices[p - 1] <= m.indices[p];
    if (sorted) continue;
    if (!m.values) {
      m.indices.subarray(s, e).sort();
      continue;
    }
    const order = Array.from({ length: e - s }, (_, i) => s + i).sort((a, b) => m.indices[a] - m.indices[b]);
    const idx = order.map((i) => m.indices[i]);
    const val = order.map((i) => m.values![i]);
    m.indices.set(idx, s);
    m.values.set(val, s);
  }
}

export function rowOf(m: Csr, r: number): Int32Array {
  return m.indices.subarray(m.indptr[r], m.indptr[r + 1]);
}

export function nnz(m: Csr): number {
  return m.indptr[m.rows];
}

/** Entries per column. */
export function columnCounts(m: Csr): Float64Array {
  const counts = new Float64Array(m.cols);
  for (let i = 0; i < nnz(m); i++) counts[m.indices[i]]++;
  return counts;
}

/** Union of two matrices with disjoint entries (the test mask: train + valid). */
export function csrUnion(a: Csr, b: Csr): Csr {
  const rows: number[] = [];
  const cols: number[] = [];
  for (const m of [a, b]) {
    for (let r = 0; r < m.rows; r++) {
      for (let i = m.indptr[r]; i < m.indptr[r + 1]; i++) {
        rows.push(r);
        cols.push(m.indices[i]);
      }
    }
  }
  return csrFromTriples(a.rows, a.cols, rows, cols);
}

/** The transpose (items x users for a user x item matrix), rows sorted. */
export function csrTranspose(m: Csr): Csr {
  const indptr = new Int32Array(m.cols + 1);
  for (let p = 0; p < nnz(m); p++) indptr[m.indices[p] + 1]++;
  for (let c = 0; c < m.cols; c++) indptr[c + 1] += indptr[c];
  const fill = indptr.slice(0, m.cols);
  const indices = new Int32Array(nnz(m));
  for (let r = 0; r < m.rows; r++) for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) indices[fill[m.indices[p]]++] = r;
  return { rows: m.cols, cols: m.rows, indptr, indices };
}
