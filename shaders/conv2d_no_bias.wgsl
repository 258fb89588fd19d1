// A convolution without bias (see conv2d_bias.wgsl): no bias buffer, binding 2 stays unused.

fn biasOf(o: u32) -> f32 { return 0.0; }
