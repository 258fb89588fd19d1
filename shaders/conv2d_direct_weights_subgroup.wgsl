// How conv2d_direct.wgsl reads a tap's weights of 4 output channels with subgroups of at least 4
// invocations (conv2d v5): lane l loads the weight of channel l % 4 and subgroupBroadcast hands
// each lane all four, so a SIMD group issues 4 loads per tap where v4 issues 16 (on SwiftShader,
// subgroups of 4: the direct forward 17% faster). Every invocation of a workgroup has the same
// channels (the group is workgroup_id.z), so lanes 0-3 hold what all need.
enable subgroups;

struct Ids {
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
}
fn laneOf(ids: Ids) -> u32 { return ids.lane; }

fn weights4(i: vec4<i32>, lane: u32) -> vec4<f32> {
  let mine = weight[i[lane & 3u]];
  return vec4<f32>(subgroupBroadcast(mine, 0u), subgroupBroadcast(mine, 1u), subgroupBroadcast(mine, 2u), subgroupBroadcast(mine, 3u));
}
