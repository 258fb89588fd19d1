// Winograd F(2x2, 3x3), step 3 of 4: the 16 GEMMs over the channels, one per transformed position
// xi (grid z), on the conv tile machinery (conv2d_tile.wgsl and a column layout, composed before
// this file, as for the tiled kernels):
//   M[xi] (outC x tiles) = U[xi] (outC x srcC) @ V[xi] (srcC x tiles)
// U comes from conv2d_winograd_filter.wgsl, V from conv2d_winograd_input.wgsl, both row-major per
// xi; M is stored likewise, m[(xi * outC + o) * tiles + t], for conv2d_winograd_output.wgsl.
// Staged in workgroup memory like every tiled GEMM: an earlier version that multiplied straight
// from the storage buffers, each invocation a tile's 16 values times 8 output channels (and the
// output transform in registers), ran its multiply at ~1.7 GFLOP/s on SwiftShader, under half
// the tiled GEMM's rate.

struct Params {
  outC: u32,   // M: rows
  srcC: u32,   // K: the channels summed over
  tiles: u32,  // N: columns (2x2 output blocks over the batch)
}

@group(0) @binding(0) var<storage, read> u: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Four values of U (gatherA) or V (gatherB) at `index`, 0 where `ok` is false.
fn gatherA(index: vec4<u32>, ok: vec4<bool>) -> vec4<f32> {
  let i = select(vec4<u32>(0u), index, ok);
  return select(vec4<f32>(0.0), vec4<f32>(u[i.x], u[i.y], u[i.z], u[i.w]), ok);
}
fn gatherB(index: vec4<u32>, ok: vec4<bool>) -> vec4<f32> {
  let i = select(vec4<u32>(0u), index, ok);
  return select(vec4<f32>(0.0), vec4<f32>(v[i.x], v[i.y], v[i.z], v[i.w]), ok);
}

// Where this workgroup's GEMM (xi = its z) starts in m, for storeColumn.
var<private> mBase: u32;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = params.outC;
  let K = params.srcC;
  let N = params.tiles;
  let uBase = wid.z * M * K;
  let vBase = wid.z * K * N;
  mBase = wid.z * M * N;
  let blk = blockOf(li);
  let sg = stagerOf(li);
  for (var tile = firstTile(wid, nwg); tile < tileCount(M, N); tile += tileStep(nwg)) {
    let origin = tileOrigin(tile, N);
    var acc = Acc();  // explicit zero per tile (see conv2d_forward.wgsl)
    let rows = groupOf(origin.x, sg.qa);
    let rowOk = rows < vec4<u32>(M);
    let uRow = uBase + rows * K;
    let cols = columnsOf(origin.y, sg.qb);
    let colOk = cols < vec4<u32>(N);
    for (var k0 = 0u; k0 < K; k0 += TK) {
      if (li < STAGERS_A) {
        for (var j = 0u; j < RUN_A; j++) {
          let k = k0 + sg.kRunA + j;
          stageA(sg.kRunA + j, sg.qa, gatherA(uRow + k, rowOk & vec4<bool>(k < K)));
        }
      }
      for (var j = 0u; j < RUN_B; j++) {
        let k = k0 + sg.kRunB + j;
        stageB(sg.kRunB + j, sg.qb, gatherB(vBase + k * N + cols, colOk & vec4<bool>(k < K)));
      }
      multiplyStaged(&acc, blk);
    }
    storeBlock(&acc, origin.x, origin.y, blk.x, blk.y);
  }
}

// M[xi][row0 + i][col] = lo[i], M[xi][row0 + HALF_M + i][col] = hi[i] (storeBlock's callback).
fn storeColumn(row0: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (col >= params.tiles) { return; }
  for (var i = 0u; i < 4u; i++) {
    storeM(row0 + i, col, lo[i]);
    storeM(row0 + HALF_M + i, col, hi[i]);
  }
}

fn storeM(row: u32, col: u32, value: f32) {
  if (row >= params.outC) { return; }
  m[mBase + row * params.tiles + col] = value;
}
