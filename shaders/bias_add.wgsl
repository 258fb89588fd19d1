// out = x + bias[c] for x viewed as [outer, C, inner]: a linear layer's bias ([B, C], inner 1)
// or a convolution's ([N, C, H*W]).

struct Params {
  n: u32,       // number of values
  channels: u32,
  inner: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < params.n) { out[i] = x[i] + bias[(i / params.inner) % params.channels]; }
}
