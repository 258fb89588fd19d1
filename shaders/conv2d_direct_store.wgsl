// The direct-style kernels' store (conv2d_direct.wgsl, conv2d_direct_s2.wgsl, conv2d_pointwise.wgsl):
// out[n, o, oh, ow .. ow + 3] = v plus the bias (biasOf: conv2d_bias.wgsl or conv2d_no_bias.wgsl),
// within the output. The including kernel declares `out` and `params` (cout, ho, wo).
fn store4(n: u32, o: u32, oh: u32, ow: u32, v: vec4<f32>) {
  if (o >= params.cout) { return; }
  let b = biasOf(o);
  let row = ((n * params.cout + o) * params.ho + oh) * params.wo;
  for (var e = 0u; e < 4u; e++) {
    if (ow + e < params.wo) { out[row + ow + e] = v[e] + b; }
  }
}
