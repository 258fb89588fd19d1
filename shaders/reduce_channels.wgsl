// Sums per channel: x viewed as [N, C, HW], out[c] = scale * sum over the N * HW values of
// channel c (a conv's bias gradient: [0, 2, 3] of NCHW; C = 1 for a sum of everything, HW = 1 for
// [0] of [N, C]). Composed after batchnorm_layout.wgsl: the BN reductions' split, with no
// workgroup barrier (a tree per output costs a barrier per level, ~100 us each on SwiftShader):
//   `partials`: invocation g = c * slices + p sums slice p of channel c (values p, p + slices,
//     ... by the Walk: neighbouring invocations read neighbouring addresses) into part[g];
//   `merge`: one invocation per channel adds its slices and scales.

struct Params {
  c: u32,
  hw: u32,
  m: u32,       // values per channel: N * hw
  slices: u32,  // slices per channel
  scale: f32,   // merge: applied to the sum (1 / count for a mean)
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> part: array<f32>;  // [C * slices]
@group(0) @binding(2) var<storage, read_write> out: array<f32>;   // [C]
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn partials(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g >= params.c * params.slices) { return; }
  let c = g / params.slices;
  let p = g % params.slices;
  var w = walk_start(c, p, params.c, params.hw, params.slices);
  var s = 0.0;
  for (var m = p; m < params.m; m += params.slices) {
    s += x[w.addr];
    walk_next(&w);
  }
  part[g] = s;
}

@compute @workgroup_size(WG)
fn merge(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * WG;
  if (c >= params.c) { return; }
  var s = 0.0;
  for (var p = 0u; p < params.slices; p++) { s += part[c * params.slices + p]; }
  out[c] = s * params.scale;
}
