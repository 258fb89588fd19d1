// The convolution's input is ReLU(BN(x)), computed while the tile is gathered so the normalized
// activation is never written (the prologue of cuDNN's fused scale-bias-activation-conv). The
// channels' batch (or running) statistics and affine parameters are read once per gathered vec4
// (the forward: one channel per k) or once per tile (the filter gradient: a column's channel is
// fixed for the tile). The expression is the normalize kernel's (shaders/batchnorm.wgsl), bit for
// bit, so fused and unfused steps round alike. The padding stays zero after the normalization:
// the gathers mask the taps outside the image. The functions are conv2d_input_plain.wgsl's.

@group(0) @binding(8) var<storage, read> bn_mean: array<f32>;
@group(0) @binding(9) var<storage, read> bn_rstd: array<f32>;
@group(0) @binding(10) var<storage, read> bn_gamma: array<f32>;
@group(0) @binding(11) var<storage, read> bn_beta: array<f32>;

struct InputChannels {
  mean: vec4<f32>,
  rstd: vec4<f32>,
  gamma: vec4<f32>,
  beta: vec4<f32>,
}

fn inputChannels(c: vec4<u32>) -> InputChannels {
  return InputChannels(
    vec4(bn_mean[c.x], bn_mean[c.y], bn_mean[c.z], bn_mean[c.w]),
    vec4(bn_rstd[c.x], bn_rstd[c.y], bn_rstd[c.z], bn_rstd[c.w]),
    vec4(bn_gamma[c.x], bn_gamma[c.y], bn_gamma[c.z], bn_gamma[c.w]),
    vec4(bn_beta[c.x], bn_beta[c.y], bn_beta[c.z], bn_beta[c.w]),
  );
}

fn bnRelu4(v: vec4<f32>, mean: vec4<f32>, rstd: vec4<f32>, gamma: vec4<f32>, beta: vec4<f32>) -> vec4<f32> {
  let z = (v - mean) * rstd * gamma + beta;
  return select(vec4<f32>(0.0), z, z > vec4<f32>(0.0));
}

fn inputOf(i: vec4<u32>, c: u32) -> vec4<f32> {
  let v = vec4<f32>(x[i.x], x[i.y], x[i.z], x[i.w]);
  return bnRelu4(v, vec4(bn_mean[c]), vec4(bn_rstd[c]), vec4(bn_gamma[c]), vec4(bn_beta[c]));
}

fn inputAt(i: vec4<u32>, k: InputChannels) -> vec4<f32> {
  return bnRelu4(vec4<f32>(x[i.x], x[i.y], x[i.z], x[i.w]), k.mean, k.rstd, k.gamma, k.beta);
}
