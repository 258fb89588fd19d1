// SGD with heavy-ball momentum and L2 weight decay, in place, PyTorch's convention:
//   g' = grad + weight_decay * param;  v = momentum * v + g';  param -= lr * v.
// One dispatch per parameter tensor; lr is a uniform so it can change every step.
// Four values per invocation; the last vec4 may update the binding's padding (ignored).
//
// The step's finiteness check rides along: if any new parameter or velocity value (of the n
// real ones, not the padding) is NaN or +-Inf, status[1] becomes the bits of 1.0. A non-finite
// gradient always shows up here (it makes v, then param, non-finite), so the trainer learns of a
// poisoned model from the same 8-byte read that brings the loss (status[0]), with no extra pass.

struct Params {
  n: u32,             // values
  n4: u32,            // vec4s = ceil(n / 4)
  lr: f32,
  momentum: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> velocity: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> status: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> params: Params;

const WG: u32 = 64u;
const ONE_BITS: u32 = 0x3f800000u; // 1.0f: the flag reads back as an ordinary float
const EXP_MASK: u32 = 0x7f800000u; // all exponent bits set: NaN or +-Inf

// By the bits, not by comparisons: a compiler may assume floats are finite (WGSL allows it).
fn nonFinite(x: vec4<f32>, lanes: vec4<bool>) -> bool {
  let e = bitcast<vec4<u32>>(x) & vec4<u32>(EXP_MASK);
  return any((e == vec4<u32>(EXP_MASK)) & lanes);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n4) { return; }
  let w = param[i];
  let v = params.momentum * velocity[i] + (grad[i] + params.weight_decay * w);
  let w2 = w - params.lr * v;
  velocity[i] = v;
  param[i] = w2;
  let lanes = vec4<u32>(4u * i) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(params.n);
  if (nonFinite(v, lanes) || nonFinite(w2, lanes)) {
    atomicMax(&status[1], ONE_BITS);
  }
}

// The same flag for state the update does not touch (BN's running statistics, which can overflow
// while every parameter stays finite): reads `param`, writes nothing else.
@compute @workgroup_size(WG)
fn check_finite(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n4) { return; }
  let lanes = vec4<u32>(4u * i) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(params.n);
  if (nonFinite(param[i], lanes)) {
    atomicMax(&status[1], ONE_BITS);
  }
}
