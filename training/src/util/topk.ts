// Partial top-K selection: one pass over the scores, keeping a sorted buffer of the best K.
// Ties are broken by the smaller item index (the earlier item stays ahead), so rankings are
// deterministic. Items whose score is -Infinity (masked) or NaN are never selected.

/**
 * Writes the indices of the k best of scores[offset .. offset + n) (relative to offset) into
 * `out`, best first, and returns how many were found (fewer than k when fewer are selectable).
 */
export function topK(scores: Float32Array | Float64Array, offset: number, n: number, k: number, out: Int32Array, outScores?: Float64Array): number {
  const best = outScores ?? new Float64Array(k);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const s = scores[offset + i];
    if (!(s > Number.NEGATIVE_INFINITY)) continue;
    if (count === k && !(s > best[k - 1])) continue;
    // insertion point: after every kept entry with score >= s (ties keep index order)
    let pos = count === k ? k - 1 : count;
    while (pos > 0 && best[pos - 1] < s) {
      best[pos] = best[pos - 1];
      out[pos] = out[pos - 1];
      pos--;
    }
    best[pos] = s;
    out[pos] = i;
    if (count < k) count++;
  }
  return count;
}
