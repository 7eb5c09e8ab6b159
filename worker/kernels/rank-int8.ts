// AssemblyScript: the Worker's int8 ranking kernel, compiled by worker/scripts/build-kernel.mjs to
// worker/build/rank-int8.wasm and imported by the Worker as a compiled module. Scores every row
// of an int8 table (a float32 scale per row) against an int16 query in one pass and keeps the
// best k that are not excluded. The host lays out the memory it passes in (worker/src/int8-ranker.ts).

/**
 * Writes the best `k` rows, best first, to `outRows` (i32) and `outScores` (f32), and returns how
 * many it wrote (fewer than k when fewer rows are left). Row j's score is
 * f32(dot(table[j], query)) * queryScale * scales[j]. `stride` is the padded row length in bytes,
 * a multiple of 16 (padding is zero in both the rows and the query). Bit j of `excluded` set: row j
 * is skipped. Ties keep the lower row first, as ONNX TopK does.
 */
export function rankInt8(
  table: usize,
  scales: usize,
  rows: i32,
  stride: i32,
  query: usize,
  queryScale: f32,
  excluded: usize,
  k: i32,
  outRows: usize,
  outScores: usize,
): i32 {
  if (k <= 0) return 0;
  let kept = 0;
  let worst: f32 = -Infinity;
  const chunks = stride >> 4;
  for (let j = 0; j < rows; j++) {
    if ((load<u8>(excluded + (j >> 3)) >> (j & 7)) & 1) continue;
    const row = table + <usize>j * <usize>stride;
    let acc = i32x4.splat(0);
    // two chunks a step, with two accumulators: the dot products do not wait on each other
    let acc2 = i32x4.splat(0);
    let c = 0;
    for (; c + 1 < chunks; c += 2) {
      const a = v128.load(row + (<usize>c << 4));
      const b = v128.load(row + (<usize>c << 4), 16);
      const q = query + (<usize>c << 5);
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), v128.load(q)));
      acc2 = i32x4.add(acc2, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), v128.load(q, 16)));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(b), v128.load(q, 32)));
      acc2 = i32x4.add(acc2, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(b), v128.load(q, 48)));
    }
    acc = i32x4.add(acc, acc2);
    for (; c < chunks; c++) {
      const bytes = v128.load(row + (<usize>c << 4));
      const q = query + (<usize>c << 5);
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(bytes), v128.load(q)));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(bytes), v128.load(q, 16)));
    }
    const dot = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    const score = <f32>dot * queryScale * load<f32>(scales + (<usize>j << 2));
    if (kept === k && !(score > worst)) continue;
    // insert after every kept score >= this one (ties: the lower row stays first)
    let at = kept < k ? kept : k - 1;
    while (at > 0 && load<f32>(outScores + (<usize>(at - 1) << 2)) < score) {
      store<f32>(outScores + (<usize>at << 2), load<f32>(outScores + (<usize>(at - 1) << 2)));
      store<i32>(outRows + (<usize>at << 2), load<i32>(outRows + (<usize>(at - 1) << 2)));
      at--;
    }
    store<f32>(outScores + (<usize>at << 2), score);
    store<i32>(outRows + (<usize>at << 2), j);
    if (kept < k) kept++;
    if (kept === k) worst = load<f32>(outScores + (<usize>(k - 1) << 2));
  }
  return kept;
}
