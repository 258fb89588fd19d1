// Batch-norm normalize (training and eval forward): y = gamma[c] * (x - mean[c]) * rstd[c] + beta[c],
// optionally followed by ReLU in the same pass (override RELU = 1: the pre-activation BN -> ReLU of
// a Wide-ResNet block reads and writes the activations once instead of twice).
// x is viewed as [N, C, HW]; the channel of value i is (i / HW) % C.
//
// Work split (64 invocations per workgroup, grid folded into 2D past 65535 workgroups):
//  - ALIGNED = 1 (HW % 4 == 0): an invocation handles a span of SPAN consecutive vec4s that share
//    one channel (SPAN = 8 when HW % 32 == 0, 4 when HW % 16 == 0, else 1, at most the tuning
//    profile's maxSpan: 8 on a CPU adapter, 1 on a GPU), so the channel's four
//    constants are loaded once per up to 32 values. On SwiftShader those scalar loads, not the
//    arithmetic, made the one-vec4-per-invocation version take 2-9x a copy's time.
//  - otherwise one invocation per vec4, the channel tracked value by value (still vec4 loads and
//    stores). The last vec4 may run past the logical size into the binding's padding (harmless:
//    nothing reads it back).
//
// (x - mean) * rstd is computed first on purpose: folding it into x * scale + shift would cancel
// catastrophically when |mean| >> std. The backward kernels recompute the pre-activation with
// the very same expression (xhat * gamma + beta) for the ReLU mask.

override RELU: u32 = 0u;
override ALIGNED: u32 = 0u;
override SPAN: u32 = 1u;

struct Params {
  n4: u32,   // vec4s in x = ceil(N * C * HW / 4) (a multiple of SPAN)
  c: u32,
  hw: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> params: Params;

const WG: u32 = 64u;

// Channel c's constants, loaded once per vec4 when ALIGNED (once per value otherwise).
struct Chan {
  mean: f32,
  rstd: f32,
  gamma: f32,
  beta: f32,
}

fn chan(c: u32) -> Chan {
  return Chan(mean[c], rstd[c], gamma[c], beta[c]);
}

fn bn(v: f32, k: Chan) -> f32 {
  let xhat = (v - k.mean) * k.rstd;
  let z = xhat * k.gamma + k.beta;
  if (RELU != 0u) { return max(z, 0.0); }
  return z;
}

// bn() on four values of one channel: the same operations in the same order.
fn bn4(v: vec4<f32>, k: Chan) -> vec4<f32> {
  let xhat = (v - k.mean) * k.rstd;
  let z = xhat * k.gamma + k.beta;
  if (RELU != 0u) { return max(z, vec4<f32>(0.0)); }
  return z;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (ALIGNED != 0u) {
    let i0 = t * SPAN;
    if (i0 >= params.n4) { return; }
    let k = chan((4u * i0 / params.hw) % params.c);
    for (var j = 0u; j < SPAN; j++) { y[i0 + j] = bn4(x[i0 + j], k); }
  } else if (t < params.n4) {
    y[t] = straddling(t);
  }
}

// Vec4 i when it may straddle channels (the Cursor of batchnorm_layout.wgsl, composed before this file).
fn straddling(i: u32) -> vec4<f32> {
  let v = x[i];
  var out: vec4<f32>;
  var cur = cursor_at(4u * i, params.hw, params.c);
  var k = chan(cur.c);
  for (var j = 0u; j < 4u; j++) {
    out[j] = bn(v[j], k);
    if (cursor_next(&cur, params.hw, params.c)) { k = chan(cur.c); }
  }
  return out;
}
