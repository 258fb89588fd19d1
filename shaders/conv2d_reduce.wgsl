// Sum of the backward-filter kernel's split-K partials: dw[i] = sum_s partials[s * count + i].
// One invocation per weight, serial over the (few) splits: no barriers, adjacent invocations read
// adjacent values.

struct Params {
  count: u32,    // values of dw
  splits: u32,
}

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.count) { return; }
  var s = 0.0;
  for (var j = 0u; j < params.splits; j++) { s += partials[j * params.count + i]; }
  dw[i] = s;
}
