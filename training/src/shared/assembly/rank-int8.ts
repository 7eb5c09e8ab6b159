// AssemblyScript: the Worker's int8 ranking kernel, compiled by worker/scripts/build-kernel.mjs to
// worker/build/rank-int8.wasm and imported by the Worker as a compiled module. Scores every row
// of an int8 table (a float32 scale per row) against an int16 query in one pass and keeps the
// best k that are not excluded. The host lays out the memory it passes in (../int8-ranker.ts).

/**
 * Writes the best `k` rows, best first, to `outRows` (i32) and `outScores` (f32), and returns how
 * many it wrote (fewer than k when fewer rows are left). Row j's score is
 * f32(dot(table[j], query)) * queryScale * scales[j]. `stride` is the padded row length in bytes,
 * a multiple of 16 (padding is zero in both the rows and the query). Bit j of `excluded` set: row j
 * is skipped. `allowed`, when not 0, is a bitset of the rows that may be returned (a request's
 * filters): a row whose bit is clear is skipped too, before its dot product is taken. Ties keep the
 * lower row first, as ONNX TopK does.
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
  allowed: usize,
): i32 {
  if (k <= 0) return 0;
  let kept = 0;
  let worst: f32 = -Infinity;
  const chunks = stride >> 4;
  for (let j = 0; j < rows; j++) {
    if ((load<u8>(excluded + (j >> 3)) >> (j & 7)) & 1) continue;
    if (allowed !== 0 && !((load<u8>(allowed + (j >> 3)) >> (j & 7)) & 1)) continue;
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

/**
 * For each of `count` rows listed at `items` (i32), the position in the `length` rows listed at
 * `history` (i32) of the row with the largest score f32(dot(row, history row)) * scale * scale,
 * written to `outPositions` (i32) with that score to `outScores` (f32). Ties keep the earlier
 * position, as ONNX ArgMax does. With rows of unit length these scores are cosines.
 */
export function bestMatchInt8(
  table: usize,
  scales: usize,
  stride: i32,
  items: usize,
  count: i32,
  history: usize,
  length: i32,
  outPositions: usize,
  outScores: usize,
): void {
  const chunks = stride >> 4;
  for (let n = 0; n < count; n++) {
    const i = load<i32>(items + (<usize>n << 2));
    const row = table + <usize>i * <usize>stride;
    const scale = load<f32>(scales + (<usize>i << 2));
    let best: f32 = -Infinity;
    let at = 0;
    for (let p = 0; p < length; p++) {
      const h = load<i32>(history + (<usize>p << 2));
      const other = table + <usize>h * <usize>stride;
      let acc = i32x4.splat(0);
      for (let c = 0; c < chunks; c++) {
        const a = v128.load(row + (<usize>c << 4));
        const b = v128.load(other + (<usize>c << 4));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_s(b)));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_s(b)));
      }
      const dot = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
      const score = <f32>dot * scale * load<f32>(scales + (<usize>h << 2));
      if (score > best) {
        best = score;
        at = p;
      }
    }
    store<i32>(outPositions + (<usize>n << 2), at);
    store<f32>(outScores + (<usize>n << 2), best);
  }
}
