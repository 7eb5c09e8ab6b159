// SIMD helpers shared by the kernel families (inlined where they are used).

// @ts-ignore: decorator
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  return f32x4.relaxed_madd(a, b, c);
}

// @ts-ignore: decorator
@inline
export function dotRows(a: usize, b: usize, d: i32): f32 {
  let s = f32x4.splat(0);
  const d4 = d & ~3;
  let c = 0;
  for (; c < d4; c += 4) s = madd(v128.load(a + (<usize>c << 2)), v128.load(b + (<usize>c << 2)), s);
  let t: f32 = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  for (; c < d; c++) t += load<f32>(a + (<usize>c << 2)) * load<f32>(b + (<usize>c << 2));
  return t;
}

// @ts-ignore: decorator
@inline
export function axpy(alpha: f32, x: usize, y: usize, d: i32): void {
  const av = f32x4.splat(alpha);
  const d4 = d & ~3;
  let c = 0;
  for (; c < d4; c += 4) {
    const o = <usize>c << 2;
    v128.store(y + o, madd(av, v128.load(x + o), v128.load(y + o)));
  }
  for (; c < d; c++) store<f32>(y + (<usize>c << 2), load<f32>(y + (<usize>c << 2)) + alpha * load<f32>(x + (<usize>c << 2)));
}
