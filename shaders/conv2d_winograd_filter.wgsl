// Winograd F(2x2, 3x3), step 1 of 3: the filter transform U = G g G^T of every (output channel,
// summed channel) pair, once per convolution call (not per tile). The forward reads w [Cout, Cin,
// 3, 3]; the input gradient reads it transposed and flipped through the same strides as the
// direct kernels (conv2d_direct.wgsl): g[r][s] = weight[wBase + o*wO + i*wI + r*wR + s*wS].
//   G = [1, 0, 0; 1/2, 1/2, 1/2; 1/2, -1/2, 1/2; 0, 0, 1]
// Layout: u[(xi * outC + o) * inC + i] = element xi (row xi / 4, column xi % 4) of the 4x4 U:
// for each xi the row-major [outC, inC] A matrix of that position's GEMM (conv2d_winograd_gemm.wgsl);
// adjacent invocations (adjacent i) store adjacent floats.

struct Params {
  outC: u32,   // output channels of the convolution computed (Cout forward, Cin input gradient)
  inC: u32,    // channels summed over (Cin forward, Cout input gradient)
  wBase: i32, wO: i32, wI: i32, wR: i32, wS: i32,
}

@group(0) @binding(0) var<storage, read> weight: array<f32>;
@group(0) @binding(1) var<storage, read_write> u: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const WG: u32 = 64u;

fn tapRow(at: i32) -> vec3<f32> {
  return vec3<f32>(weight[at], weight[at + params.wS], weight[at + 2 * params.wS]);
}

// One row a of G g times G^T: [a0, (a0 + a1 + a2) / 2, (a0 - a1 + a2) / 2, a2] (halving is exact).
fn rowTimesGt(a: vec3<f32>) -> vec4<f32> {
  let ac = a.x + a.z;
  return vec4<f32>(a.x, 0.5 * (ac + a.y), 0.5 * (ac - a.y), a.z);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let item = gid.x + gid.y * nwg.x * WG;
  if (item >= params.outC * params.inC) { return; }
  let i = item % params.inC;
  let o = item / params.inC;
  let at = params.wBase + i32(o) * params.wO + i32(i) * params.wI;
  let g0 = tapRow(at);
  let g1 = tapRow(at + params.wR);
  let g2 = tapRow(at + 2 * params.wR);
  // G g, row by row.
  let g02 = g0 + g2;
  let plane = params.outC * params.inC;
  storeRow(item, plane, rowTimesGt(g0));
  storeRow(item + 4u * plane, plane, rowTimesGt(0.5 * (g02 + g1)));
  storeRow(item + 8u * plane, plane, rowTimesGt(0.5 * (g02 - g1)));
  storeRow(item + 12u * plane, plane, rowTimesGt(g2));
}

// One row of U: its four values, a plane (outC * inC floats) apart.
fn storeRow(at: u32, plane: u32, r: vec4<f32>) {
  u[at] = r.x;
  u[at + plane] = r.y;
  u[at + 2u * plane] = r.z;
  u[at + 3u * plane] = r.w;
}
