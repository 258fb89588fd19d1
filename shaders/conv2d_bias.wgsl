// The bias of a convolution's output channel o, composed before the kernels that add one
// (conv2d_forward.wgsl, conv2d_direct.wgsl). conv2d_no_bias.wgsl defines the same function
// without a bias buffer, so a convolution without bias binds no buffer it does not read.

@group(0) @binding(2) var<storage, read> bias: array<f32>;  // [Cout]

fn biasOf(o: u32) -> f32 { return bias[o]; }
