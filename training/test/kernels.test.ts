import { describe, expect, it } from "vitest";
import { engine } from "../src/engine/wasm/kernels.ts";
import { Rng } from "../src/util/rng.ts";

const rng = new Rng(7);

function randomArray(n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.next() * 2 - 1;
  return a;
}

function refGemm(
  m: number,
  n: number,
  k: number,
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  ta: boolean,
  tb: boolean,
  alpha: number,
  beta: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      out[i * n + j] = alpha * s + beta * c[i * n + j];
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe("gemm kernel", () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [3, 5, 7],
    [4, 4, 4],
    [17, 33, 9],
    [101, 67, 300],
    [5, 2050, 3],
    [0, 3, 2],
  ];
  for (const [m, n, k] of shapes) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`matches the reference for ${m}x${n}x${k} transA=${ta} transB=${tb}`, () => {
        const e = engine();
        e.scoped(() => {
          const a = randomArray(m * k),
            b = randomArray(k * n),
            c = randomArray(m * n);
          const alpha = 0.75,
            beta = ta ? 0 : -1.5;
          const A = e.from("f64", a),
            B = e.from("f64", b),
            C = e.from("f64", c);
          e.gemm({ m, n, k, a: A, b: B, c: C, transA: ta, transB: tb, alpha, beta });
          expect(maxAbsDiff(C.view(), refGemm(m, n, k, a, b, c, ta, tb, alpha, beta))).toBeLessThan(1e-10);
        });
      });
    }
  }
});

describe("SPD inverse kernel", () => {
  for (const n of [1, 2, 5, 64, 65, 130, 257]) {
    it(`inverts a random ${n}x${n} SPD matrix`, () => {
      const e = engine();
      e.scoped(() => {
        // A = X^T X + n I is SPD and well conditioned.
        const x = randomArray(n * n);
        const A = e.alloc("f64", n * n);
        e.gemm({ m: n, n, k: n, a: e.from("f64", x), b: e.from("f64", x), c: A, transA: true });
        const av = A.view();
        for (let i = 0; i < n; i++) av[i * n + i] += n;
        const original = e.from("f64", A.view());
        e.invertSpd(A, n);
        const product = e.alloc("f64", n * n);
        e.gemm({ m: n, n, k: n, a: original, b: A, c: product });
        const identity = new Float64Array(n * n);
        for (let i = 0; i < n; i++) identity[i * n + i] = 1;
        expect(maxAbsDiff(product.view(), identity)).toBeLessThan(1e-9);
        // the inverse of a symmetric matrix is symmetric
        const inv = A.view();
        let asym = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) asym = Math.max(asym, Math.abs(inv[i * n + j] - inv[j * n + i]));
        expect(asym).toBeLessThan(1e-12);
      });
    });
  }
});

function randomCsr(rows: number, cols: number, density: number, withValues: boolean) {
  const indptr = new Int32Array(rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    // some rows empty on purpose
    if (r % 5 !== 3) {
      for (let c = 0; c < cols; c++) {
        if (rng.next() < density) {
          indices.push(c);
          values.push(rng.next() * 2 - 1);
        }
      }
    }
    indptr[r + 1] = indices.length;
  }
  return { rows, cols, indptr, indices: Int32Array.from(indices), values: withValues ? Float32Array.from(values) : null };
}

describe("sparse kernels", () => {
  for (const [rows, cols] of [
    [1, 1],
    [7, 13],
    [40, 130],
  ] as const) {
    it(`gram of a binary ${rows}x${cols} CSR matches the dense reference`, () => {
      const e = engine();
      e.scoped(() => {
        const x = randomCsr(rows, cols, 0.3, false);
        const g = e.gramBinary(e.csr(x)).view();
        const ref = new Float64Array(cols * cols);
        for (let r = 0; r < rows; r++) {
          for (let p = x.indptr[r]; p < x.indptr[r + 1]; p++) {
            for (let q = x.indptr[r]; q < x.indptr[r + 1]; q++) ref[x.indices[p] * cols + x.indices[q]] += 1;
          }
        }
        expect(Array.from(g)).toEqual(Array.from(ref));
      });
    });

    for (const d of [1, 3, 4, 17, 64, 67]) {
      for (const withValues of [false, true]) {
        it(`spmm ${rows}x${cols} times ${cols}x${d} (values=${withValues}) matches the reference`, () => {
          const e = engine();
          e.scoped(() => {
            const x = randomCsr(rows, cols, 0.3, withValues);
            const dense = Float32Array.from(randomArray(cols * d));
            const r0 = rows > 2 ? 1 : 0;
            const out = e.alloc("f32", (rows - r0) * d);
            out.view().fill(123); // the kernel must overwrite, not accumulate
            e.spmm(e.csr(x), r0, rows, e.from("f32", dense), d, out);
            const ref = new Float32Array((rows - r0) * d);
            for (let r = r0; r < rows; r++) {
              for (let p = x.indptr[r]; p < x.indptr[r + 1]; p++) {
                const w = x.values ? x.values[p] : 1;
                for (let c = 0; c < d; c++) ref[(r - r0) * d + c] += w * dense[x.indices[p] * d + c];
              }
            }
            expect(maxAbsDiff(out.view(), ref)).toBeLessThan(1e-5);
          });
        });
      }
    }
  }
});
