// A set of catalogue rows as a bitset (bit j of byte j >> 3 set: row j is in the set), the form
// a request's filters take on their way into ranking: the int8 kernel reads it in place, and the
// ONNX graphs get it widened to one bool per row. Shared by the Worker and training's benches.

/** Bit j set: row j may be returned. `ceil(rows / 8)` bytes; bits past the last row stay clear. */
export type ItemMask = Uint8Array;

export const maskBytes = (rows: number): number => Math.ceil(rows / 8);

export function emptyMask(rows: number): ItemMask {
  return new Uint8Array(maskBytes(rows));
}

export function fullMask(rows: number): ItemMask {
  const mask = new Uint8Array(maskBytes(rows)).fill(0xff);
  // the last byte's bits past the last row stay clear, so counts and widenings never see them
  if (rows % 8 !== 0) mask[mask.length - 1] = (1 << (rows % 8)) - 1;
  return mask;
}

export const hasRow = (mask: ItemMask, j: number): boolean => ((mask[j >> 3] >> (j & 7)) & 1) === 1;

export function addRow(mask: ItemMask, j: number): void {
  mask[j >> 3] |= 1 << (j & 7);
}

export function removeRow(mask: ItemMask, j: number): void {
  mask[j >> 3] &= ~(1 << (j & 7));
}

/** `into` &= `other`, in place. */
export function intersect(into: ItemMask, other: ItemMask): void {
  for (let b = 0; b < into.length; b++) into[b] &= other[b];
}

/** `into` |= `other`, in place. */
export function unite(into: ItemMask, other: ItemMask): void {
  for (let b = 0; b < into.length; b++) into[b] |= other[b];
}

const BITS = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let v = b; v > 0; v >>= 1) n += v & 1;
  return n;
});

/** How many rows the mask holds (of its first `rows`, when given: a mask over a longer catalogue). */
export function countRows(mask: ItemMask, rows = mask.length * 8): number {
  const whole = Math.min(mask.length, rows >> 3);
  let n = 0;
  for (let b = 0; b < whole; b++) n += BITS[mask[b]];
  if (whole < mask.length && rows % 8 !== 0) n += BITS[mask[whole] & ((1 << (rows % 8)) - 1)];
  return n;
}

/** One byte per row, 1 where the mask holds the row: the ONNX graphs' bool input. */
export function widenMask(mask: ItemMask, rows: number, out: Uint8Array = new Uint8Array(rows)): Uint8Array {
  for (let j = 0; j < rows; j++) out[j] = (mask[j >> 3] >> (j & 7)) & 1;
  return out;
}
