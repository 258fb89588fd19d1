// Batch-norm dx in training mode (composed before batchnorm_backward.wgsl): the per-channel sums
// of the reduction are inputs, and dx subtracts their share.

@group(0) @binding(9) var<storage, read> sum_dy_xhat: array<f32>;   // dgamma, as input of dx
@group(0) @binding(10) var<storage, read> sum_dy: array<f32>;       // dbeta, as input of dx

const TRAINING = true;

// (sum dy, sum dy * xhat) of channel c.
fn sums(c: u32) -> vec2<f32> { return vec2<f32>(sum_dy[c], sum_dy_xhat[c]); }
