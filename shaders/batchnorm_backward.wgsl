// Batch-norm backward (closed form; De & Smith 2020 use the standard BN of Ioffe & Szegedy 2015), optionally with the following ReLU
// folded in (override RELU = 1: dy is first masked where the BN output xhat * gamma + beta <= 0,
// recomputed from x exactly as the forward computed it). x is viewed as [N, C, HW], M = N*HW;
// xhat = (x - mean[c]) * rstd[c] is recomputed from x, never stored.
//
//   reduction:   dbeta[c] = sum(dy), dgamma[c] = sum(dy * xhat)            (over channel c's M values)
//   elementwise: dx = gamma * rstd * (dy - (sum(dy) + xhat * sum(dy * xhat)) / M)      (training)
//                dx = gamma * rstd * dy        (eval mode: mean and rstd are constants)
// Which of the two `grad_x` computes is composed before this file: batchnorm_dx_train.wgsl (binds
// the two sums) or batchnorm_dx_eval.wgsl (no sums: it binds nothing it does not read).
//
// Work split, no workgroup barrier (each one costs ~100 us on SwiftShader):
//   `reduce_partials` / `reduce_partials_vec4` (HW % 4 == 0): channel c's M values are cut into
//     `slices` interleaved slices; invocation g = c * slices + p sums values p, p + slices, ...
//     (the Walk of batchnorm_layout.wgsl, composed before this file) into part[g] = (sum dy, sum dy*xhat).
//   `reduce_merge`: one invocation per channel adds up its slices into dbeta[c] and dgamma[c].
//   `grad_x`: with ALIGNED = 1 (HW % 4 == 0) one invocation per span of SPAN vec4s of one channel
//     (SPAN = 8 when HW % 32 == 0, 4 when HW % 16 == 0, else 1, at most the profile's maxSpan: the
//     channel's six constants are
//     loaded once per span),
//     otherwise one per vec4 with the channel tracked value by value (vec4 loads and stores).
// The vec4 paths use vector arithmetic, never a dynamically indexed vector: on SwiftShader that
// moves the vector to memory (the reduction ran at ~0.35 of a copy's bandwidth that way).

override RELU: u32 = 0u;
override ALIGNED: u32 = 0u;
override SPAN: u32 = 1u;

struct Params {
  c: u32,
  hw: u32,      // H*W, in the units the entry reads (H*W/4 vec4s in reduce_partials_vec4)
  m: u32,       // values per channel in the same units: N * hw
  slices: u32,  // slices per channel (reduction)
  n4: u32,      // vec4s in x (dx; a multiple of SPAN)
  inv_m: f32,   // 1 / (N * H * W) (dx)
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> part: array<vec2<f32>>;   // [C * slices]
@group(0) @binding(7) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbeta: array<f32>;
// bindings 9 and 10: the sums, where batchnorm_dx_train.wgsl declares them
@group(0) @binding(11) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(12) var<uniform> params: Params;

const WG: u32 = 64u;

fn load_x(i: u32) -> f32 {
  return x[i >> 2u][i & 3u];
}

fn load_dy(i: u32) -> f32 {
  return dy[i >> 2u][i & 3u];
}

// dy with the ReLU mask applied; the pre-activation is the forward's expression, bit for bit.
fn masked(d: f32, xhat: f32, g: f32, b: f32) -> f32 {
  if (RELU != 0u) { return select(0.0, d, xhat * g + b > 0.0); }
  return d;
}
fn masked4(d: vec4<f32>, xhat: vec4<f32>, g: f32, b: f32) -> vec4<f32> {
  if (RELU != 0u) { return select(vec4<f32>(0.0), d, xhat * g + b > vec4<f32>(0.0)); }
  return d;
}

@compute @workgroup_size(WG)
fn reduce_partials(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g >= params.c * params.slices) { return; }
  let c = g / params.slices;
  let p = g % params.slices;
  let mu = mean[c];
  let rs = rstd[c];
  let ga = gamma[c];
  let be = beta[c];
  var w = walk_start(c, p, params.c, params.hw, params.slices);
  var s = vec2<f32>(0.0);
  for (var m = p; m < params.m; m += params.slices) {
    let xhat = (load_x(w.addr) - mu) * rs;
    let d = masked(load_dy(w.addr), xhat, ga, be);
    s += vec2<f32>(d, d * xhat);
    walk_next(&w);
  }
  part[g] = s;
}

@compute @workgroup_size(WG)
fn reduce_partials_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g >= params.c * params.slices) { return; }
  let c = g / params.slices;
  let p = g % params.slices;
  let mu = mean[c];
  let rs = rstd[c];
  let ga = gamma[c];
  let be = beta[c];
  var w = walk_start(c, p, params.c, params.hw, params.slices);
  var s_dy = vec4<f32>(0.0);
  var s_dyx = vec4<f32>(0.0);
  for (var m = p; m < params.m; m += params.slices) {
    let xhat = (x[w.addr] - mu) * rs;
    let d = masked4(dy[w.addr], xhat, ga, be);
    s_dy += d;
    s_dyx += d * xhat;
    walk_next(&w);
  }
  part[g] = vec2<f32>(s_dy.x + s_dy.y + s_dy.z + s_dy.w, s_dyx.x + s_dyx.y + s_dyx.z + s_dyx.w);
}

@compute @workgroup_size(WG)
fn reduce_merge(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * WG;
  if (c >= params.c) { return; }
  var s = vec2<f32>(0.0);
  for (var p = 0u; p < params.slices; p++) {
    s += part[c * params.slices + p];
  }
  dbeta[c] = s.x;
  dgamma[c] = s.y;
}

// Channel c's constants for dx, loaded once per vec4 when ALIGNED (once per value otherwise).
struct Chan {
  mean: f32,
  rstd: f32,
  gamma: f32,
  beta: f32,
  sum_dy: f32,
  sum_dy_xhat: f32,
}

fn chan(c: u32) -> Chan {
  let s = sums(c);
  return Chan(mean[c], rstd[c], gamma[c], beta[c], s.x, s.y);
}

fn dx_one(v: f32, d: f32, k: Chan) -> f32 {
  let xhat = (v - k.mean) * k.rstd;
  var g = masked(d, xhat, k.gamma, k.beta);
  if (TRAINING) {
    g -= (k.sum_dy + xhat * k.sum_dy_xhat) * params.inv_m;
  }
  return k.gamma * k.rstd * g;
}

// dx_one() on four values of one channel: the same operations in the same order.
fn dx4(v: vec4<f32>, d: vec4<f32>, k: Chan) -> vec4<f32> {
  let xhat = (v - k.mean) * k.rstd;
  var g = masked4(d, xhat, k.gamma, k.beta);
  if (TRAINING) {
    g -= (k.sum_dy + xhat * k.sum_dy_xhat) * params.inv_m;
  }
  return k.gamma * k.rstd * g;
}

@compute @workgroup_size(WG)
fn grad_x(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (ALIGNED != 0u) {
    let i0 = t * SPAN;
    if (i0 >= params.n4) { return; }
    let k = chan((4u * i0 / params.hw) % params.c);
    for (var j = 0u; j < SPAN; j++) { dx[i0 + j] = dx4(x[i0 + j], dy[i0 + j], k); }
  } else if (t < params.n4) {
    dx[t] = straddling(t);
  }
}

// Vec4 i when it may straddle channels (the Cursor of batchnorm_layout.wgsl).
fn straddling(i: u32) -> vec4<f32> {
  let v = x[i];
  let d = dy[i];
  var out: vec4<f32>;
  var cur = cursor_at(4u * i, params.hw, params.c);
  var k = chan(cur.c);
  for (var j = 0u; j < 4u; j++) {
    out[j] = dx_one(v[j], d[j], k);
    if (cursor_next(&cur, params.hw, params.c)) { k = chan(cur.c); }
  }
  return out;
}
