// Reference kernel for bandwidth: dst = src, one vec4 per invocation. Its GB/s (bytes read +
// bytes written) is the adapter's practical memory bandwidth, the yardstick of every
// memory-bound kernel.

struct Params {
  n4: u32,
}

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < params.n4) { dst[i] = src[i]; }
}
