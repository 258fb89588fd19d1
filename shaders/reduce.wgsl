// Sum over one axis. The input is viewed as [outer, k, inner] and reduced over k. No float
// atomics exist in WGSL, so a long axis is split into chunks: each workgroup sums one chunk of
// one output (a tree in workgroup memory) and writes a partial; a second dispatch sums the
// partials. Partials are laid out [chunks, outer * inner], which is again [1, chunks, outer*inner].

struct Params {
  outer: u32,
  k: u32,
  inner: u32,
  chunk: u32,   // elements of k per workgroup
  scale: f32,   // applied to the result (1/k for a mean, in the last pass only)
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const WG: u32 = 256u;         // sum_axis: one workgroup per output (a tree)
const SERIAL_WG: u32 = 64u;   // sum_axis_serial: one invocation per output
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn sum_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let outputs = params.outer * params.inner;
  let o = wid.x + wid.y * nwg.x;   // which output (uniform across the workgroup)
  let c = wid.z;                   // which chunk of k
  var acc = 0.0;
  if (o < outputs) {
    let base = (o / params.inner) * params.k * params.inner + o % params.inner;
    let end = min((c + 1u) * params.chunk, params.k);
    for (var j = c * params.chunk + lid; j < end; j += WG) {
      acc += x[base + j * params.inner];
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u && o < outputs) {
    out[c * outputs + o] = partial[0] * params.scale;
  }
}

// Many outputs: one invocation per output sums its chunk of k serially (no barriers; on CPU
// adapters a workgroup barrier costs as much as hundreds of additions). Adjacent invocations read
// adjacent values when inner > 1.
@compute @workgroup_size(SERIAL_WG)
fn sum_axis_serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(workgroup_id) wid: vec3<u32>) {
  let outputs = params.outer * params.inner;
  let o = gid.x + gid.y * nwg.x * SERIAL_WG;
  let c = wid.z;
  if (o >= outputs) { return; }
  let base = (o / params.inner) * params.k * params.inner + o % params.inner;
  let end = min((c + 1u) * params.chunk, params.k);
  var acc = 0.0;
  for (var j = c * params.chunk; j < end; j++) {
    acc += x[base + j * params.inner];
  }
  out[c * outputs + o] = acc * params.scale;
}
