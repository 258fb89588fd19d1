// Reference kernel for compute: each invocation runs `iterations` rounds of 8 independent vec4
// fused multiply-adds (8 chains, so the FMA latency is hidden), then writes one value so that
// nothing is optimized away. Its GFLOP/s (2 per lane per FMA) is the adapter's practical compute
// peak, the yardstick of every compute-bound kernel (the SGEMM is a program, this is a limit).

struct Params {
  iterations: u32,
  scale: f32,   // 0.999 at run time: the compiler cannot fold the chains
  offset: f32,  // 0.001
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let m = vec4<f32>(params.scale);
  let a = vec4<f32>(params.offset);
  let seed = f32(i & 255u) * 1e-3;
  var c0 = vec4<f32>(seed, seed + 0.1, seed + 0.2, seed + 0.3);
  var c1 = c0 + 0.01;
  var c2 = c0 + 0.02;
  var c3 = c0 + 0.03;
  var c4 = c0 + 0.04;
  var c5 = c0 + 0.05;
  var c6 = c0 + 0.06;
  var c7 = c0 + 0.07;
  for (var k = 0u; k < params.iterations; k++) {
    c0 = fma(c0, m, a);
    c1 = fma(c1, m, a);
    c2 = fma(c2, m, a);
    c3 = fma(c3, m, a);
    c4 = fma(c4, m, a);
    c5 = fma(c5, m, a);
    c6 = fma(c6, m, a);
    c7 = fma(c7, m, a);
  }
  let s = (c0 + c1) + (c2 + c3) + (c4 + c5) + (c6 + c7);
  out[i] = s.x + s.y + s.z + s.w;
}
