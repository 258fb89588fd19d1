// Winograd F(2x2, 3x3), step 4 of 4: the output transform out = A^T M A, the 2x2 block of valid
// outputs of one (output channel, tile) from its 16 values of M (conv2d_winograd_gemm.wgsl;
// rows or columns past the output's edge are skipped), plus the bias.
//   A^T = [1, 1, 1, 0; 0, 1, -1, -1]
// The bias (biasOf) is composed before this file: conv2d_bias.wgsl or conv2d_no_bias.wgsl.
// One invocation per (o, t), the tile fastest: adjacent invocations read adjacent floats of M.

struct Params {
  batch: u32,
  outC: u32,
  ho: u32, wo: u32,
  tilesH: u32, tilesW: u32,
}

@group(0) @binding(0) var<storage, read> m: array<f32>;
// binding 2: the bias, where conv2d_bias.wgsl declares it
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const WG: u32 = 64u;

// Row q of this (o, t)'s M: its four values, a plane (outC * tiles floats) apart.
fn row(at: u32, plane: u32) -> vec4<f32> {
  return vec4<f32>(m[at], m[at + plane], m[at + 2u * plane], m[at + 3u * plane]);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let item = gid.x + gid.y * nwg.x * WG;
  let tiles = params.batch * params.tilesH * params.tilesW;
  if (item >= tiles * params.outC) { return; }
  let t = item % tiles;
  let o = item / tiles;
  let plane = tiles * params.outC;
  let m0 = row(item, plane);
  let m1 = row(item + 4u * plane, plane);
  let m2 = row(item + 8u * plane, plane);
  let m3 = row(item + 12u * plane, plane);
  // A^T M: two rows; then each times A.
  let r0 = m0 + m1 + m2;
  let r1 = m1 - m2 - m3;
  let b = biasOf(o);
  let tw = t % params.tilesW;
  let th = (t / params.tilesW) % params.tilesH;
  let n = t / (params.tilesW * params.tilesH);
  let oh = 2u * th;
  let ow = 2u * tw;
  let at = ((n * params.outC + o) * params.ho + oh) * params.wo + ow;
  let right = ow + 1u < params.wo;
  out[at] = r0.x + r0.y + r0.z + b;
  if (right) { out[at + 1u] = r0.y - r0.z - r0.w + b; }
  if (oh + 1u < params.ho) {
    out[at + params.wo] = r1.x + r1.y + r1.z + b;
    if (right) { out[at + params.wo + 1u] = r1.y - r1.z - r1.w + b; }
  }
}
