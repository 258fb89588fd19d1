// Winograd F(2x2, 3x3), step 3 of 3: the batched multiply over channels and the output transform.
// For each of the 16 transformed positions xi, M[xi] = V[xi] (tiles x C) times U[xi] (C x outC):
// 16 independent GEMMs, computed here as Hadamard products summed over the channels (each
// invocation holds one tile's 16 values for CO output channels, so no M is ever written); then
// out = A^T M A, the 2x2 block of valid outputs (rows or columns past the output's edge skipped).
//   A^T = [1, 1, 1, 0; 0, 1, -1, -1]
// The bias (biasOf) is composed before this file: conv2d_bias.wgsl or conv2d_no_bias.wgsl.
// The channel group is the grid's z, so every invocation of a workgroup reads the same U (one
// address per SIMD group, as in conv2d_direct.wgsl); adjacent invocations take adjacent tiles.

struct Params {
  batch: u32,
  inC: u32,    // channels summed over
  outC: u32,
  ho: u32, wo: u32,
  tilesH: u32, tilesW: u32,
}

@group(0) @binding(0) var<storage, read> u: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> v: array<vec4<f32>>;
// binding 2: the bias, where conv2d_bias.wgsl declares it
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// CO (output channels per invocation) is composed by src/gpu/programs/conv2d.ts, which sizes the
// grid with it; the code below is unrolled for it.
const_assert CO == 8u;
const WG: u32 = 64u;

// One channel pair's 16 values (or their running sums), row q = xi / 4.
alias Tile = array<vec4<f32>, 4>;

// m += U (at u[at .. at + 3]) * V, elementwise.
fn mac(m: ptr<function, Tile>, at: u32, x: Tile) {
  (*m)[0] += u[at] * x[0];
  (*m)[1] += u[at + 1u] * x[1];
  (*m)[2] += u[at + 2u] * x[2];
  (*m)[3] += u[at + 3u] * x[3];
}

// out[n, o, 2th .. 2th + 1, 2tw .. 2tw + 1] = A^T m A (plus the bias), within the output.
fn store(n: u32, o: u32, th: u32, tw: u32, m: Tile) {
  if (o >= params.outC) { return; }
  let r0 = m[0] + m[1] + m[2];
  let r1 = m[1] - m[2] - m[3];
  let b = biasOf(o);
  let oh = 2u * th;
  let ow = 2u * tw;
  let row = ((n * params.outC + o) * params.ho + oh) * params.wo + ow;
  let right = ow + 1u < params.wo;
  out[row] = r0.x + r0.y + r0.z + b;
  if (right) { out[row + 1u] = r0.y - r0.z - r0.w + b; }
  if (oh + 1u < params.ho) {
    out[row + params.wo] = r1.x + r1.y + r1.z + b;
    if (right) { out[row + params.wo + 1u] = r1.y - r1.z - r1.w + b; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  let tiles = params.batch * params.tilesH * params.tilesW;
  if (t >= tiles) { return; }
  let o0 = wid.z * CO;
  // Channels past outC read the last one's U (not stored).
  let last = params.outC - 1u;
  let c0 = min(o0, last); let c1 = min(o0 + 1u, last); let c2 = min(o0 + 2u, last); let c3 = min(o0 + 3u, last);
  let c4 = min(o0 + 4u, last); let c5 = min(o0 + 5u, last); let c6 = min(o0 + 6u, last); let c7 = min(o0 + 7u, last);
  var m0 = Tile(); var m1 = Tile(); var m2 = Tile(); var m3 = Tile();
  var m4 = Tile(); var m5 = Tile(); var m6 = Tile(); var m7 = Tile();
  for (var i = 0u; i < params.inC; i++) {
    let at = 4u * (i * tiles + t);
    let x = Tile(v[at], v[at + 1u], v[at + 2u], v[at + 3u]);
    let ui = i * params.outC;
    mac(&m0, 4u * (ui + c0), x); mac(&m1, 4u * (ui + c1), x); mac(&m2, 4u * (ui + c2), x); mac(&m3, 4u * (ui + c3), x);
    mac(&m4, 4u * (ui + c4), x); mac(&m5, 4u * (ui + c5), x); mac(&m6, 4u * (ui + c6), x); mac(&m7, 4u * (ui + c7), x);
  }
  let tw = t % params.tilesW;
  let th = (t / params.tilesW) % params.tilesH;
  let n = t / (params.tilesW * params.tilesH);
  store(n, o0, th, tw, m0); store(n, o0 + 1u, th, tw, m1); store(n, o0 + 2u, th, tw, m2); store(n, o0 + 3u, th, tw, m3);
  store(n, o0 + 4u, th, tw, m4); store(n, o0 + 5u, th, tw, m5); store(n, o0 + 6u, th, tw, m6); store(n, o0 + 7u, th, tw, m7);
}
