// ReLU forward y = max(x, 0) and backward dx = dy * (x > 0), four values per invocation.
// The backward takes the forward's input x (not y): the two agree except at x = 0, where both
// give a zero gradient.

struct Params {
  n4: u32,  // number of vec4s = ceil(n / 4)
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < params.n4) { out[i] = max(x[i], vec4<f32>(0.0)); }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < params.n4) { out[i] = select(vec4<f32>(0.0), dy[i], x[i] > vec4<f32>(0.0)); }
}
