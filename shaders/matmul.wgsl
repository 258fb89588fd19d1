// C[M, N] = op(A) @ op(B), op = optional transpose (override constants TRANS_A, TRANS_B), so the
// same kernel serves a linear layer's forward (x @ w^T) and both backward products.
// Tiled: each workgroup computes a TM x TN tile of C (64x64), staging TM x TK slices of A and
// TK x TN slices of B (TK = 8) in workgroup memory; each of its (TN/4) x (TM/4) invocations
// accumulates a 4x4 block of outputs. TM, TN and TK are composed constants
// (src/gpu/programs/matmul.ts), which also sizes the grid with them; TM must equal TN (one loop
// stages both slices).

override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const WG_X: u32 = TN / 4u;
const WG_Y: u32 = TM / 4u;
var<workgroup> tileA: array<f32, TK * TM>;  // [TK][TM]
var<workgroup> tileB: array<f32, TK * TN>;  // [TK][TN]

fn loadA(row: u32, col: u32) -> f32 {  // op(A)[row, col], zero outside
  if (row >= params.m || col >= params.k) { return 0.0; }
  if (TRANS_A == 1u) { return a[col * params.m + row]; }
  return a[row * params.k + col];
}

fn loadB(row: u32, col: u32) -> f32 {  // op(B)[row, col], zero outside
  if (row >= params.k || col >= params.n) { return 0.0; }
  if (TRANS_B == 1u) { return b[col * params.k + row]; }
  return b[row * params.n + col];
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < params.k; k0 += TK) {
    for (var e = li; e < TM * TK; e += WG_X * WG_Y) {
      // e -> (kk, mm) with mm fastest for A when transposed, kk fastest otherwise (coalesced reads)
      let mm = e / TK;
      let kk = e % TK;
      tileA[kk * TM + mm] = loadA(row0 + mm, k0 + kk);
      let kb = e / TN;
      let nb = e % TN;
      tileB[kb * TN + nb] = loadB(k0 + kb, col0 + nb);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = tileA[kk * TM + lid.y * 4u + i];
        bv[i] = tileB[kk * TN + lid.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] += av[i] * bv[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x * 4u + j;
      if (r < params.m && col < params.n) { c[r * params.n + col] = acc[i][j]; }
    }
  }
}
