// The tile machinery shared by the three convolution kernels (src/gpu/programs/conv2d.ts composes
// this file before conv2d_forward.wgsl, conv2d_backward_input.wgsl and conv2d_backward_filter.wgsl,
// after the tile shape's constants, `const TM: u32 = 64u; const TN: u32 = 64u; const TK: u32 = 32u;`,
// and one column layout: conv2d_tile_blocked.wgsl or conv2d_tile_strided.wgsl, which declare tileB
// and define columnsOf, stageB, multiplyTiles and storeBlock).
//
// Each kernel is an implicit GEMM  C[M, N] = A[M, K] @ B[K, N]  whose A and B are gathered from
// the conv's tensors on the fly. A workgroup of 64 invocations computes a TM x TN tile of C
// (TM * TN = 4096: 64x64, 32x128 or 16x256; the narrow tiles serve GEMMs with M = 16 or 32, the
// stage-1 and stage-2 layers of a WRN of width 1, where a 64-row tile would waste 75% or 50% of
// its work):
//  - per K-step it stages a TM x TK slice of A and a TK x TN slice of B in workgroup memory
//    (TK * (TM + TN) floats: 16 KiB at 64x64x32, within what every adapter offers), so there are
//    only two barriers per TK values of K;
//  - each invocation then accumulates an 8x8 block of C in registers: rows {4ty..4ty+3,
//    TM/2+4ty..TM/2+4ty+3} (tx = li % (TN/8), ty = li / (TN/8)) and 8 columns that the column
//    layout places (blocked: {4tx..4tx+3, TN/2+4tx..TN/2+4tx+3}; strided: tx + j * TN/8), so
//    per k it reads 2 vec4s of A and 8 values of B from workgroup memory for 64 FMAs; the
//    invocations that share a ty read the same A vec4 (a broadcast).
// tileA is stored k-major as vec4s of 4 consecutive rows: tileA[k * TM4 + m / 4][m % 4] = A[m0 + m, k0 + k].
// Indices are 32-bit (i32 where a tap may fall in the padding): tensors of up to 2^31 values.

const TM4: u32 = TM / 4u;   // vec4s per tile column of A
const TN4: u32 = TN / 4u;   // vec4s per tile row of B
const HALF_M: u32 = TM / 2u; // the second row block of an invocation starts this far down

var<workgroup> tileA: array<vec4<f32>, TK * TM4>;  // [TK][TM4]

// The accumulators: each kernel declares `var acc = Acc()` per tile (a function variable the
// compiler can keep in registers) and passes it by pointer. acc[i] holds C[row(i % 8), 4 columns]:
// i < 8 columns 4tx..4tx+3, i >= 8 columns TN/2+4tx..TN/2+4tx+3; row(r) = 4ty + r for r < 4,
// TM/2 + 4ty + r - 4 otherwise.
alias Acc = array<vec4<f32>, 16>;

// Staging assignment. B: invocation li fills the vec4s of column group qb = li % TN4 (columns
// 4qb..4qb+3 of the tile) for a run of RUN_B consecutive k from RUN_B * (li / TN4); RUN_B is 8
// for every tile shape. A likewise with qa = li % TM4 and runs of RUN_A; the 16-row tile's A slice
// has only 32 vec4s, so there only the first STAGERS_A invocations stage A, one vec4 each.
// Four values per store, one decode of k per run, and adjacent invocations write adjacent vec4s.
const RUN_B: u32 = TK * TN4 / 64u;
const RUN_A: u32 = max(1u, TK * TM4 / 64u);
const STAGERS_A: u32 = TK * TM4 / RUN_A;
struct Stager {
  qa: u32,     // A's row group
  kRunA: u32,  // the first k of A's run
  qb: u32,     // B's column group
  kRunB: u32,  // the first k of B's run
}
fn stagerOf(li: u32) -> Stager { return Stager(li % TM4, RUN_A * (li / TM4), li % TN4, RUN_B * (li / TN4)); }
// The 4 rows (of A) or columns (of B) of group q in the tile that starts at `first`.
fn groupOf(first: u32, q: u32) -> vec4<u32> { return vec4<u32>(first + 4u * q) + vec4<u32>(0u, 1u, 2u, 3u); }
fn stageA(kk: u32, q: u32, a: vec4<f32>) { tileA[kk * TM4 + q] = a; }

// Bounds tests are written as u32(i) < size, which also rejects a negative i (a tap in the
// padding). A column past the end of the GEMM gets the coordinate OUTSIDE, so the same test masks
// it (OUTSIDE + any tap offset stays negative).
const OUTSIDE: i32 = -1073741824;

// Each kernel also defines gatherA(index, ok) and gatherB(index, ok): four values of its A or B
// source at `index`, 0 where `ok` is false (the index is not used then).

// acc += (a0, a1) x (b0, b1): one k of the 8x8 block (8 rows of A, 8 columns of B).
fn outerProduct(acc: ptr<function, Acc>, a0: vec4<f32>, a1: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) {
  (*acc)[0] += a0.x * b0; (*acc)[1] += a0.y * b0; (*acc)[2] += a0.z * b0; (*acc)[3] += a0.w * b0;
  (*acc)[4] += a1.x * b0; (*acc)[5] += a1.y * b0; (*acc)[6] += a1.z * b0; (*acc)[7] += a1.w * b0;
  (*acc)[8] += a0.x * b1; (*acc)[9] += a0.y * b1; (*acc)[10] += a0.z * b1; (*acc)[11] += a0.w * b1;
  (*acc)[12] += a1.x * b1; (*acc)[13] += a1.y * b1; (*acc)[14] += a1.z * b1; (*acc)[15] += a1.w * b1;
}

// Once the slices are staged: acc += their product, then wait until every invocation is done with
// them before the next K-step overwrites them. Called from uniform control flow (the K loop).
fn multiplyStaged(acc: ptr<function, Acc>, blk: vec2<u32>) {
  workgroupBarrier();
  multiplyTiles(acc, blk.x, blk.y);
  workgroupBarrier();
}

// Tiles of C are handed out round-robin: workgroup w computes tiles w, w + G, w + 2G, ... where G
// is the number of workgroups. Under the 'gpu' tuning profile the host launches one workgroup per
// tile; under 'cpu-adapter' a few, because there each workgroup start costs about as much as a K-step.
fn tileCount(rows: u32, cols: u32) -> u32 { return ((rows + TM - 1u) / TM) * ((cols + TN - 1u) / TN); }
fn firstTile(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }
fn tileStep(nwg: vec3<u32>) -> u32 { return nwg.x * nwg.y; }
// This invocation's place in the 8x8-block grid: (tx, ty).
fn blockOf(li: u32) -> vec2<u32> { return vec2<u32>(li % (TN / 8u), li / (TN / 8u)); }
// The (first row, first column) of C in tile number `tile`.
fn tileOrigin(tile: u32, cols: u32) -> vec2<u32> {
  let colTiles = (cols + TN - 1u) / TN;
  return vec2<u32>((tile / colTiles) * TM, (tile % colTiles) * TN);
}
