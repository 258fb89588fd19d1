// Repeat along one axis: out[o, j, i] = scale * x[o, i] for out viewed as [outer, k, inner].
// The backward of a sum over that axis.

struct Params {
  n: u32,      // outer * k * inner
  k: u32,
  inner: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= params.n) { return; }
  let i = idx % params.inner;
  let o = idx / (params.inner * params.k);
  out[idx] = params.scale * x[o * params.inner + i];
}
