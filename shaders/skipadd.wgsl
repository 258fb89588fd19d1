// SkipInit residual join: out = skip + alpha * branch, where alpha is a one-element tensor read
// from a storage buffer (it is a trained parameter that lives on the GPU; a uniform would need a
// CPU read-back every step).
//
// Forward: one vec4 per invocation in workgroups of FWD_WG, a composed constant chosen by the
// tuning profile (src/gpu/profile.ts: 256 on a CPU adapter, as the plain add; with 64 it took
// 1.5-2x the add's time on SwiftShader, where each workgroup has a cost).
// Backward in two dispatches (WGSL has no float atomics):
//   backward        d_skip = g, d_branch = alpha * g, and one partial of sum(g * branch) per
//                   workgroup; each invocation handles params.per_thread vec4s serially, so
//                   there is a single barrier per WG * per_thread vec4s (barriers are expensive
//                   on CPU adapters);
//   reduce_partials one workgroup sums the partials into d_alpha.
// The last vec4 may hold padding past n values: it is computed and ignored, except that it must
// not enter d_alpha, so those lanes are masked there.

struct Params {
  n4: u32,        // vec4s in the tensors = ceil(n / 4)
  n: u32,         // values
  partials: u32,  // number of partials = workgroups of `backward`
  per_thread: u32,  // vec4s per invocation in `backward`
}

@group(0) @binding(0) var<storage, read> skip: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> branch: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> alpha: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> d_skip: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> d_branch: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> partials: array<f32>;
@group(0) @binding(8) var<storage, read_write> d_alpha: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;

const WG: u32 = 64u;
var<workgroup> scratch: array<f32, WG>;

@compute @workgroup_size(FWD_WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * FWD_WG;
  if (i < params.n4) { out[i] = skip[i] + alpha[0] * branch[i]; }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = wid.x + wid.y * nwg.x;
  let a = alpha[0];
  let start = group * WG * params.per_thread;
  var acc = vec4<f32>(0.0);
  for (var j = 0u; j < params.per_thread; j++) {
    let i = start + j * WG + lid;  // adjacent invocations touch adjacent vec4s
    if (i < params.n4) {
      let gi = g[i];
      d_skip[i] = gi;
      d_branch[i] = a * gi;
      let lanes = vec4<u32>(4u * i) + vec4<u32>(0u, 1u, 2u, 3u);
      acc += select(vec4<f32>(0.0), gi * branch[i], lanes < vec4<u32>(params.n));
    }
  }
  scratch[lid] = (acc.x + acc.y) + (acc.z + acc.w);
  workgroupBarrier();
  if (lid == 0u && group < params.partials) {
    var s = 0.0;
    for (var k = 0u; k < WG; k++) { s += scratch[k]; }
    partials[group] = s;
  }
}

// One workgroup: each invocation sums a strided share of the partials, then invocation 0 sums
// the WG shares (one barrier).
@compute @workgroup_size(WG)
fn reduce_partials(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var k = lid; k < params.partials; k += WG) { s += partials[k]; }
  scratch[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var k = 0u; k < WG; k++) { total += scratch[k]; }
    d_alpha[0] = total;
  }
}
