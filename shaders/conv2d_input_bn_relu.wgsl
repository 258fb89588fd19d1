// The convolution's input is ReLU(BN(x)), computed while the tile is gathered so the normalized
// activation is never written (the prologue of cuDNN's fused scale-bias-activation-conv). Channel
// c's batch (or running) statistics and affine parameters; the expression is the normalize
// kernel's (shaders/batchnorm.wgsl), bit for bit, so fused and unfused steps round alike. The
// padding stays zero after the normalization: gatherB masks the taps outside the image.

@group(0) @binding(8) var<storage, read> bn_mean: array<f32>;
@group(0) @binding(9) var<storage, read> bn_rstd: array<f32>;
@group(0) @binding(10) var<storage, read> bn_gamma: array<f32>;
@group(0) @binding(11) var<storage, read> bn_beta: array<f32>;

fn inputAt(i: u32, c: u32) -> f32 {
  let z = (x[i] - bn_mean[c]) * bn_rstd[c] * bn_gamma[c] + bn_beta[c];
  return select(0.0, z, z > 0.0);
}
