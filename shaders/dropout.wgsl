// Inverted dropout with a counter-based RNG: value i is kept when
//   pcg(pcg(i) ^ pcg(seed)) >= threshold,   threshold = floor(p * 2^32),
// and kept values are scaled by 1 / (1 - p). The mask is a pure function of (seed, i), so the
// backward recomputes it (nothing is stored), and src/ops/dropout.ts implements the same hash
// with Math.imul and >>> 0: both backends drop exactly the same values.
// pcg = the PCG-RXS-M-XS output hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020).
// Four values per invocation; the last vec4 may run into the binding's padding (ignored).

struct Params {
  n4: u32,         // vec4s = ceil(n / 4)
  seed: u32,
  threshold: u32,  // drop when the hash is below this
  scale: f32,      // 1 / (1 - p)
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

const WG: u32 = 64u;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n4) { return; }
  let key = pcg(params.seed);
  let e = 4u * i;
  let h = vec4<u32>(pcg(pcg(e) ^ key), pcg(pcg(e + 1u) ^ key), pcg(pcg(e + 2u) ^ key), pcg(pcg(e + 3u) ^ key));
  let keep = h >= vec4<u32>(params.threshold);
  y[i] = select(vec4<f32>(0.0), x[i] * params.scale, keep);
}
