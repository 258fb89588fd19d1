// Softmax cross-entropy with integer labels (stored as f32), mean over the batch.
//   rows      one invocation per row b of logits [B, K]: m = max_k x, s = sum_k exp(x - m),
//             loss_b = (m - x[label]) + log(s) (max-subtracted, so logits of 1000 do not
//             overflow), and in the same pass the gradient of the MEAN loss,
//             grad[b, k] = (softmax_k - onehot_k) / B, which backward only rescales.
//             A label that is not an integer in [0, K) (labelsTensor rejects those on the CPU;
//             the GPU cannot throw) makes that row's loss NaN, so the mean is NaN.
//   mean      one workgroup: loss[0] = sum_b loss_b / B (strided partial sums, one barrier).
//   backward  dlogits = grad * dloss[0], with the incoming scalar gradient read from a buffer
//             (it lives on the GPU), four values per invocation.

struct Params {
  b: u32,       // rows (batch)
  k: u32,       // classes
  inv_b: f32,   // 1 / B
  n4: u32,      // vec4s of grad = ceil(B * K / 4) (backward only)
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<storage, read> saved_grad: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> dloss: array<f32>;
@group(0) @binding(7) var<storage, read_write> dlogits: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> params: Params;

const WG: u32 = 64u;
var<workgroup> scratch: array<f32, WG>;

@compute @workgroup_size(WG)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.b) { return; }
  let base = r * params.k;
  var m = logits[base];
  for (var j = 1u; j < params.k; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < params.k; j++) { s += exp(logits[base + j] - m); }

  let label_f = labels[r];
  let valid = label_f >= 0.0 && label_f < f32(params.k) && floor(label_f) == label_f;
  let label = u32(select(0.0, label_f, valid));
  let inv_s = 1.0 / s;
  for (var j = 0u; j < params.k; j++) {
    let p = exp(logits[base + j] - m) * inv_s;
    let onehot = select(0.0, 1.0, valid && j == label);
    grad[base + j] = (p - onehot) * params.inv_b;
  }
  // A runtime NaN (bits 0x7fc00000): the label's bits & 0 keep it out of constant evaluation.
  let nan = bitcast<f32>(0x7fc00000u | (bitcast<u32>(label_f) & 0u));
  row_loss[r] = select(nan, (m - logits[base + label]) + log(s), valid);
}

@compute @workgroup_size(WG)
fn mean(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var r = lid; r < params.b; r += WG) { s += row_loss[r]; }
  scratch[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var k = 0u; k < WG; k++) { total += scratch[k]; }
    loss[0] = total * params.inv_b;
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < params.n4) { dlogits[i] = saved_grad[i] * dloss[0]; }
}
