// How conv2d_direct_filter.wgsl places its invocations and reads dy with subgroups of at least 4
// (conv2d v5): workgroup (split, channel group) = (workgroup_id.x, .y), its WG = cin invocations
// the input channels, so every invocation of a workgroup needs the same dy; lane l loads the
// vec4 l % 4 of a run and subgroupBroadcast hands each lane all four (4 loads per run and
// channel where v4's layout issues 16 per invocation).
enable subgroups;

struct Ids {
  @builtin(local_invocation_index) li: u32,
  @builtin(subgroup_invocation_id) lane: u32,
}

fn placeOf(ids: Ids) -> Place { return Place(ids.li, true, ids.lane); }
fn groupOf(ids: Ids, wid: vec3<u32>) -> u32 { return wid.y; }
fn splitOf(ids: Ids, wid: vec3<u32>) -> u32 { return wid.x; }

// dy[n, o, oh, ow0 .. ow0 + 15], 0 past the row's end or for a channel past cout.
fn loadRun(n: u32, o: u32, oh: u32, ow0: u32, lane: u32) -> Run {
  let q = 4u * (lane & 3u);
  let mine = load4dy(runAt(n, o, oh, ow0) + q, runMask(o, ow0 + q));
  return Run(subgroupBroadcast(mine, 0u), subgroupBroadcast(mine, 1u), subgroupBroadcast(mine, 2u), subgroupBroadcast(mine, 3u));
}
