// How conv2d_direct.wgsl reads a tap's weights of 4 output channels without subgroups (conv2d
// v4): every invocation loads all four (the same addresses in every invocation of a SIMD group).

struct Ids {
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
}
fn laneOf(ids: Ids) -> u32 { return 0u; }

fn weights4(i: vec4<i32>, lane: u32) -> vec4<f32> { return vec4<f32>(weight[i.x], weight[i.y], weight[i.z], weight[i.w]); }
