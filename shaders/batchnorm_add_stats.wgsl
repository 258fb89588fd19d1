// The residual join of the bn-fused arm, out = a + b, with the statistics of the batch norm that
// reads `out` accumulated on the way (so `out` is not read back for them). Composed after
// batchnorm_layout.wgsl; the partials are batchnorm_stats.wgsl's, merged by its `merge`.
// out is viewed as [N, C, HW]: invocation g = c * slices + p walks slice p of channel c (the Walk:
// neighbouring invocations touch neighbouring addresses), stores a + b and runs Welford's update
// on the sums shifted by the channel's first sum, then writes part[g] = (count, mean, M2, shift).

struct Params {
  c: u32,
  hw: u32,
  m: u32,       // values per channel: N * hw
  slices: u32,  // slices per channel
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<vec4<f32>>;  // [C * slices]
@group(0) @binding(4) var<uniform> params: Params;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g >= params.c * params.slices) { return; }
  let c = g / params.slices;
  let p = g % params.slices;
  let shift = a[c * params.hw] + b[c * params.hw];
  var w = walk_start(c, p, params.c, params.hw, params.slices);
  var acc = Welford(0.0, 0.0, 0.0);
  for (var m = p; m < params.m; m += params.slices) {
    let s = a[w.addr] + b[w.addr];
    out[w.addr] = s;
    welford_add(&acc, s - shift);
    walk_next(&w);
  }
  part[g] = vec4<f32>(acc.n, acc.mu, acc.m2, shift);
}
