// How conv2d_direct_filter.wgsl places its invocations and reads dy without subgroups (conv2d v4):
// one item per invocation, in the order i (fastest), channel group, split; each invocation loads
// its own 16 values of dy per channel and run.

struct Ids {
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
}

fn itemOf(ids: Ids) -> u32 { return ids.gid.x + ids.gid.y * ids.nwg.x * WG; }
fn itemCount() -> u32 {
  let splits = (params.batch * params.ho + params.chunk - 1u) / params.chunk;
  return params.cin * ((params.cout + CO - 1u) / CO) * splits;
}
// Past the end: work on the last item, store nothing.
fn clampedItem(ids: Ids) -> u32 { return min(itemOf(ids), itemCount() - 1u); }
fn placeOf(ids: Ids) -> Place { return Place(clampedItem(ids) % params.cin, itemOf(ids) < itemCount(), 0u); }
fn groupOf(ids: Ids, wid: vec3<u32>) -> u32 { return (clampedItem(ids) / params.cin) % ((params.cout + CO - 1u) / CO); }
fn splitOf(ids: Ids, wid: vec3<u32>) -> u32 { return clampedItem(ids) / (params.cin * ((params.cout + CO - 1u) / CO)); }

// dy[n, o, oh, ow0 .. ow0 + 15], 0 past the row's end or for a channel past cout.
fn loadRun(n: u32, o: u32, oh: u32, ow0: u32, lane: u32) -> Run {
  let at = runAt(n, o, oh, ow0);
  return Run(load4dy(at, runMask(o, ow0)), load4dy(at + 4u, runMask(o, ow0 + 4u)), load4dy(at + 8u, runMask(o, ow0 + 8u)), load4dy(at + 12u, runMask(o, ow0 + 12u)));
}
