// Global average pooling over the spatial axes: x [N, C, H, W] -> y [N, C], and its backward
// dx[n, c, h, w] = dy[n, c] / (H * W).
// Forward: one invocation per (n, c) plane sums its H*W values serially. There are many planes
// in a network (batch * channels), and this needs no barrier (barriers are expensive on CPU
// adapters); a tiny N*C with a huge plane would be slow but does not occur in a ResNet head.
// Backward: four values per invocation (vec4 stores); the last vec4 may run past n values into
// the binding's padding, so its plane index is clamped when reading dy.

struct Params {
  nc: u32,      // planes = N * C
  hw: u32,      // values per plane = H * W
  n4: u32,      // vec4s of dx = ceil(N * C * H * W / 4)
  inv_hw: f32,  // 1 / (H * W)
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: Params;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = gid.x + gid.y * nwg.x * WG;
  if (plane >= params.nc) { return; }
  let base = plane * params.hw;
  var s = 0.0;
  for (var j = 0u; j < params.hw; j++) { s += x[base + j]; }
  y[plane] = s * params.inv_hw;
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n4) { return; }
  let e = vec4<u32>(4u * i) + vec4<u32>(0u, 1u, 2u, 3u);
  let plane = min(e / vec4<u32>(params.hw), vec4<u32>(params.nc - 1u));
  dx[i] = vec4<f32>(dy[plane.x], dy[plane.y], dy[plane.z], dy[plane.w]) * params.inv_hw;
}
