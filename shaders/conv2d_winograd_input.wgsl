// Winograd F(2x2, 3x3), step 2 of 3: the input tile transform V = B^T d B. A tile is the 4x4
// window d of one channel of src whose valid 3x3 convolutions are a 2x2 block of the output:
// output rows 2*th, 2*th + 1 and columns 2*tw, 2*tw + 1 read src rows 2*th - pad .. 2*th - pad + 3
// (0 outside the image; the 2x2 block may hang over the output's edge, its extra outputs are
// not stored). The forward runs it on x, the input gradient on dy (pad 2 - pad).
//   B^T = [1, 0, -1, 0; 0, 1, 1, 0; 0, -1, 1, 0; 0, 1, 0, -1]
// One invocation per (channel, tile), the tile fastest; t = (n * tilesH + th) * tilesW + tw.
// Layout: v[(xi * c + ch) * tiles + t] = element xi (row xi / 4, column xi % 4) of tile t's V in
// channel ch: for each xi the row-major [channels, tiles] B matrix of that position's GEMM
// (conv2d_winograd_gemm.wgsl); adjacent invocations (adjacent tiles) store adjacent floats.

struct Params {
  batch: u32,
  c: u32,      // channels of src
  h: u32, w: u32,
  pad: u32,
  tilesH: u32, tilesW: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> v: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const WG: u32 = 64u;

// Row ih of the window, columns iw .. iw + 3 of plane `plane` (0 outside the image).
fn windowRow(plane: u32, ih: i32, iw: i32) -> vec4<f32> {
  let cols = vec4<i32>(iw) + vec4<i32>(0, 1, 2, 3);
  let ok = (vec4<u32>(cols) < vec4<u32>(params.w)) & vec4<bool>(u32(ih) < params.h);
  let at = select(vec4<i32>(0), (i32(plane) + ih) * i32(params.w) + cols, ok);
  return select(vec4<f32>(0.0), vec4<f32>(src[at.x], src[at.y], src[at.z], src[at.w]), ok);
}

// One row e of B^T d times B: [e0 - e2, e1 + e2, e2 - e1, e1 - e3].
fn rowTimesB(e: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(e.x - e.z, e.y + e.z, e.z - e.y, e.y - e.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let item = gid.x + gid.y * nwg.x * WG;
  let tiles = params.batch * params.tilesH * params.tilesW;
  if (item >= tiles * params.c) { return; }
  let t = item % tiles;
  let c = item / tiles;
  let tw = t % params.tilesW;
  let th = (t / params.tilesW) % params.tilesH;
  let n = t / (params.tilesW * params.tilesH);
  let plane = (n * params.c + c) * params.h;
  let ih = i32(2u * th) - i32(params.pad);
  let iw = i32(2u * tw) - i32(params.pad);
  let d0 = windowRow(plane, ih, iw);
  let d1 = windowRow(plane, ih + 1, iw);
  let d2 = windowRow(plane, ih + 2, iw);
  let d3 = windowRow(plane, ih + 3, iw);
  // B^T d, row by row, then each row times B.
  let vPlane = tiles * params.c;
  storeRow(item, vPlane, rowTimesB(d0 - d2));
  storeRow(item + 4u * vPlane, vPlane, rowTimesB(d1 + d2));
  storeRow(item + 8u * vPlane, vPlane, rowTimesB(d2 - d1));
  storeRow(item + 12u * vPlane, vPlane, rowTimesB(d1 - d3));
}

// One row of V: its four values, a plane (channels * tiles floats) apart.
fn storeRow(at: u32, plane: u32, r: vec4<f32>) {
  v[at] = r.x;
  v[at + plane] = r.y;
  v[at + 2u * plane] = r.z;
  v[at + 3u * plane] = r.w;
}
