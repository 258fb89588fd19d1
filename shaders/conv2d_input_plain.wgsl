// What a convolution reads as its input, composed before conv2d_forward.wgsl and
// conv2d_backward_filter.wgsl: x itself. conv2d_input_bn_relu.wgsl defines the same function with
// a batch norm and ReLU applied on the way in (the bn-fused arm).
fn inputAt(i: u32, c: u32) -> f32 { return x[i]; }
