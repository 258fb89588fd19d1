// Batch-norm statistics. x is viewed as [N, C, HW]; channel c has M = N*HW values.
// Training mode: per-channel mean and biased variance, rstd = 1/sqrt(var + eps), and the in-place
// update of the running statistics (PyTorch convention: running = (1 - momentum) * running +
// momentum * batch; running_var takes the unbiased variance M/(M-1) * var, left as is when M = 1).
// Eval mode (`eval_rstd`): rstd = 1/sqrt(running_var + eps).
//
// Numerics: never sum and sum-of-squares (E[x^2] - E[x]^2 cancels catastrophically when
// |mean| >> std). Each slice runs Welford's update on values shifted by the channel's first value,
// so the mean Welford carries is O(std) rather than O(mean) and its rounding errors scale with the
// std; slices are merged with Chan's formula. The shift is added back at the end.
//
// Work split, with no workgroup barrier (each one costs ~100 us on SwiftShader):
//   pass 1, `partials` / `partials_vec4`: channel c's M values are cut into `slices` interleaved
//     slices. Invocation g = c * slices + p walks values p, p + slices, p + 2 * slices, ... (the
//     Walk of batchnorm_layout.wgsl, composed before this file) and writes (count, mean, M2, shift)
//     to part[g]. `partials_vec4` is for HW % 4 == 0: it reads whole vec4s (one channel each) and
//     keeps four Welford lanes that share one count, so one division per four values.
//   pass 2, `merge`: one invocation per channel merges its slices with Chan's formula and writes
//     mean, rstd and the running statistics. Other producers emit partials in the same form: the
//     convolutions' stats epilogue (conv2d_epilogue_stats.wgsl) and the residual add
//     (batchnorm_add_stats.wgsl).

struct Params {
  c: u32,         // channels
  hw: u32,        // H*W, in the units the entry reads (H*W/4 vec4s in partials_vec4)
  m: u32,         // values per channel, same units: N * hw
  slices: u32,    // slices per channel
  momentum: f32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> part: array<vec4<f32>>;   // [C * slices]
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
@group(0) @binding(7) var<storage, read> var_in: array<f32>;

const WG: u32 = 64u;

fn load(i: u32) -> f32 {
  return x[i >> 2u][i & 3u];
}

@compute @workgroup_size(WG)
fn partials(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g >= params.c * params.slices) { return; }
  let c = g / params.slices;
  let p = g % params.slices;
  let shift = load(c * params.hw);
  var w = walk_start(c, p, params.c, params.hw, params.slices);
  var acc = Welford(0.0, 0.0, 0.0);
  for (var m = p; m < params.m; m += params.slices) {
    welford_add(&acc, load(w.addr) - shift);
    walk_next(&w);
  }
  part[g] = vec4<f32>(acc.n, acc.mu, acc.m2, shift);
}

@compute @workgroup_size(WG)
fn partials_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g >= params.c * params.slices) { return; }
  let c = g / params.slices;
  let p = g % params.slices;
  let shift = x[c * params.hw].x;
  var w = walk_start(c, p, params.c, params.hw, params.slices);
  var n = 0.0;
  var mu = vec4<f32>(0.0);
  var m2 = vec4<f32>(0.0);
  for (var m = p; m < params.m; m += params.slices) {
    let v = x[w.addr] - shift;
    n += 1.0;
    let d = v - mu;
    mu += d / n;
    m2 += d * (v - mu);
    walk_next(&w);
  }
  // Chan's formula for four lanes of equal count n.
  let lane_mean = (mu.x + mu.y + mu.z + mu.w) * 0.25;
  let dm = mu - lane_mean;
  part[g] = vec4<f32>(4.0 * n, lane_mean, m2.x + m2.y + m2.z + m2.w + n * dot(dm, dm), shift);
}

@compute @workgroup_size(WG)
fn merge(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * WG;
  if (c >= params.c) { return; }
  let base = c * params.slices;
  // Each partial carries its own shift (its mean is of values minus it): the merge works relative
  // to the first non-empty partial's shift, so any producer may emit partials (these kernels
  // shift by the channel's first value, the convolutions' stats epilogue by 0).
  var n = 0.0;
  var mu = 0.0;
  var m2 = 0.0;
  var shift = 0.0;
  for (var p = 0u; p < params.slices; p++) {
    let s = part[base + p];
    if (s.x > 0.0) {
      if (n == 0.0) { shift = s.w; }
      let total = n + s.x;
      let d = s.y + (s.w - shift) - mu;
      let wb = s.x / total;
      mu += d * wb;
      m2 += s.z + d * d * n * wb;
      n = total;
    }
  }
  let batch_mean = shift + mu;
  mean[c] = batch_mean;
  rstd[c] = 1.0 / sqrt(m2 / n + params.eps);
  let k = params.momentum;
  running_mean[c] = (1.0 - k) * running_mean[c] + k * batch_mean;
  if (n > 1.0) {
    running_var[c] = (1.0 - k) * running_var[c] + k * (m2 / (n - 1.0));
  }
}

@compute @workgroup_size(WG)
fn eval_rstd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * WG;
  if (c < params.c) { rstd[c] = 1.0 / sqrt(var_in[c] + params.eps); }
}
