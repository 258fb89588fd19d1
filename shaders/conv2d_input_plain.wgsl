// What a convolution reads as its input, composed before conv2d_forward.wgsl and
// conv2d_backward_filter.wgsl: x itself. conv2d_input_bn_relu.wgsl defines the same functions with
// a batch norm and ReLU applied on the way in (the bn-fused arm).
//   inputOf(i, c): x at the four indices i, all of channel c (the forward's gather: one k);
//   inputChannels(c) once per tile, then inputAt(i, k): x at i, lane j of channel c[j] (the
//   filter gradient's gather: its columns, and so their channels, are fixed for a tile).
struct InputChannels { unused: f32 }
fn inputChannels(c: vec4<u32>) -> InputChannels { return InputChannels(0.0); }
fn inputOf(i: vec4<u32>, c: u32) -> vec4<f32> { return vec4<f32>(x[i.x], x[i.y], x[i.z], x[i.w]); }
fn inputAt(i: vec4<u32>, k: InputChannels) -> vec4<f32> { return vec4<f32>(x[i.x], x[i.y], x[i.z], x[i.w]); }
