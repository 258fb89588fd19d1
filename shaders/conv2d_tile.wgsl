// The tile machinery shared by the three convolution kernels (src/ops/conv2d.ts prepends this file
// to conv2d_forward.wgsl, conv2d_backward_input.wgsl and conv2d_backward_filter.wgsl).
//
// Each kernel is an implicit GEMM  C[M, N] = A[M, K] @ B[K, N]  whose A and B are gathered from
// the conv's tensors on the fly. A workgroup of 64 invocations computes a 64x64 tile of C:
//  - per K-step it stages a 64xTK slice of A and a TKx64 slice of B in workgroup memory
//    (TK = 32: 2 x 8 KiB, the 16 KiB every adapter offers), so there are only two barriers per
//    32 values of K;
//  - each invocation then accumulates an 8x8 block of C in registers: rows {4ty..4ty+3,
//    32+4ty..32+4ty+3}, columns {4tx..4tx+3, 32+4tx..32+4tx+3} (tx = li % 8, ty = li / 8), so
//    per k it reads 4 vec4s from workgroup memory for 64 FMAs, and the 8 invocations that share
//    a ty read the same A vec4 (a broadcast) while their B vec4s are adjacent (no bank conflicts).
// Both tiles are stored k-major as vec4s of 4 consecutive rows (A) or columns (B):
// tileA[k * 16 + m / 4][m % 4] = A[m0 + m, k0 + k].
// The 64x64 tile wastes work when M < 64 (the stem's Cout = 16; the input gradient of a layer with
// Cin = 3 or 16); the layers that dominate a WRN's time have M >= 64.
// Indices are 32-bit (i32 where a tap may fall in the padding): tensors of up to 2^31 values.

const TILE: u32 = 64u;      // rows and columns of C per workgroup
const TK: u32 = 32u;        // K values staged per barrier pair
const TILE4: u32 = 16u;     // vec4s per tile row

var<workgroup> tileA: array<vec4<f32>, 512>;  // [TK][TILE4]
var<workgroup> tileB: array<vec4<f32>, 512>;  // [TK][TILE4]

// The accumulators: each kernel declares `var acc = Acc()` per tile (a function variable the
// compiler can keep in registers) and passes it by pointer. acc[i] holds C[row(i % 8), 4 columns]:
// i < 8 columns 4tx..4tx+3, i >= 8 columns 32+4tx..32+4tx+3; row(r) = 4ty + r for r < 4,
// 32 + 4ty + r - 4 otherwise.
alias Acc = array<vec4<f32>, 16>;

// Staging assignment: invocation li fills the vec4s of row/column group q = li % 16 (rows or
// columns 4q..4q+3 of the tile) for a run of STAGE_RUN = 8 consecutive k from 8 * (li / 16).
// Four values per store, one decode of k per run, and adjacent invocations write adjacent vec4s.
const STAGE_RUN: u32 = 8u;
fn stageGroup(li: u32) -> u32 { return li % TILE4; }
fn stageRun(li: u32) -> u32 { return STAGE_RUN * (li / TILE4); }
fn stage(kk: u32, q: u32, a: vec4<f32>, b: vec4<f32>) {
  tileA[kk * TILE4 + q] = a;
  tileB[kk * TILE4 + q] = b;
}

// Bounds tests are written as u32(i) < size, which also rejects a negative i (a tap in the
// padding). A column past the end of the GEMM gets the coordinate OUTSIDE, so the same test masks
// it (OUTSIDE + any tap offset stays negative).
const OUTSIDE: i32 = -1073741824;

// Each kernel also defines gatherA(index, ok) and gatherB(index, ok): four values of its A or B
// source at `index`, 0 where `ok` is false (the index is not used then).

// acc += tileA^T-slice @ tileB-slice over the staged TK values of k.
fn multiplyTiles(acc: ptr<function, Acc>, tx: u32, ty: u32) {
  for (var kk = 0u; kk < TK; kk++) {
    let a0 = tileA[kk * TILE4 + ty];
    let a1 = tileA[kk * TILE4 + 8u + ty];
    let b0 = tileB[kk * TILE4 + tx];
    let b1 = tileB[kk * TILE4 + 8u + tx];
    (*acc)[0] += a0.x * b0; (*acc)[1] += a0.y * b0; (*acc)[2] += a0.z * b0; (*acc)[3] += a0.w * b0;
    (*acc)[4] += a1.x * b0; (*acc)[5] += a1.y * b0; (*acc)[6] += a1.z * b0; (*acc)[7] += a1.w * b0;
    (*acc)[8] += a0.x * b1; (*acc)[9] += a0.y * b1; (*acc)[10] += a0.z * b1; (*acc)[11] += a0.w * b1;
    (*acc)[12] += a1.x * b1; (*acc)[13] += a1.y * b1; (*acc)[14] += a1.z * b1; (*acc)[15] += a1.w * b1;
  }
}

// Hand this invocation's 8x8 block of C to the kernel's
//   storeColumn(row0, col, lo, hi): C[row0 + i, col] = lo[i], C[row0 + 32 + i, col] = hi[i] (i < 4)
// one column at a time, reading the accumulators with constant indices only (CPU adapters turn a
// dynamically indexed private array into a select over all 64 values).
fn storeBlock(acc: ptr<function, Acc>, m0: u32, n0: u32, tx: u32, ty: u32) {
  let row0 = m0 + 4u * ty;
  let c0 = n0 + 4u * tx;
  let c1 = n0 + 32u + 4u * tx;
  storeColumn(row0, c0, vec4((*acc)[0].x, (*acc)[1].x, (*acc)[2].x, (*acc)[3].x), vec4((*acc)[4].x, (*acc)[5].x, (*acc)[6].x, (*acc)[7].x));
  storeColumn(row0, c0 + 1u, vec4((*acc)[0].y, (*acc)[1].y, (*acc)[2].y, (*acc)[3].y), vec4((*acc)[4].y, (*acc)[5].y, (*acc)[6].y, (*acc)[7].y));
  storeColumn(row0, c0 + 2u, vec4((*acc)[0].z, (*acc)[1].z, (*acc)[2].z, (*acc)[3].z), vec4((*acc)[4].z, (*acc)[5].z, (*acc)[6].z, (*acc)[7].z));
  storeColumn(row0, c0 + 3u, vec4((*acc)[0].w, (*acc)[1].w, (*acc)[2].w, (*acc)[3].w), vec4((*acc)[4].w, (*acc)[5].w, (*acc)[6].w, (*acc)[7].w));
  storeColumn(row0, c1, vec4((*acc)[8].x, (*acc)[9].x, (*acc)[10].x, (*acc)[11].x), vec4((*acc)[12].x, (*acc)[13].x, (*acc)[14].x, (*acc)[15].x));
  storeColumn(row0, c1 + 1u, vec4((*acc)[8].y, (*acc)[9].y, (*acc)[10].y, (*acc)[11].y), vec4((*acc)[12].y, (*acc)[13].y, (*acc)[14].y, (*acc)[15].y));
  storeColumn(row0, c1 + 2u, vec4((*acc)[8].z, (*acc)[9].z, (*acc)[10].z, (*acc)[11].z), vec4((*acc)[12].z, (*acc)[13].z, (*acc)[14].z, (*acc)[15].z));
  storeColumn(row0, c1 + 3u, vec4((*acc)[8].w, (*acc)[9].w, (*acc)[10].w, (*acc)[11].w), vec4((*acc)[12].w, (*acc)[13].w, (*acc)[14].w, (*acc)[15].w));
}

// Tiles of C are handed out round-robin: workgroup w computes tiles w, w + G, w + 2G, ... where G
// is the number of workgroups. On a GPU the host launches one workgroup per tile; on a CPU adapter
// it launches a few, because there each workgroup start costs about as much as a K-step.
fn tileCount(rows: u32, cols: u32) -> u32 { return ((rows + TILE - 1u) / TILE) * ((cols + TILE - 1u) / TILE); }
fn firstTile(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }
fn tileStep(nwg: vec3<u32>) -> u32 { return nwg.x * nwg.y; }
// The (first row, first column) of C in tile number `tile`.
fn tileOrigin(tile: u32, cols: u32) -> vec2<u32> {
  let colTiles = (cols + TILE - 1u) / TILE;
  return vec2<u32>((tile / colTiles) * TILE, (tile % colTiles) * TILE);
}
