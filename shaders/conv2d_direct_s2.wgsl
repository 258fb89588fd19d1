// A 3x3, stride-2 convolution's forward computed directly (the first conv of a WRN stage that
// halves the resolution), without a GEMM tile or workgroup memory (stride 1: conv2d_direct.wgsl):
//   y[n, o, oh, ow] = bias[o] + sum_{i, r, s} w[o, i, r, s] * x[n, i, 2*oh - pad + r, 2*ow - pad + s]
// Each invocation computes CO = 8 output channels of PX = 8 adjacent pixels of one output row:
// per input channel and kernel row it loads the 17 input values its 3 taps need once (16 as
// vec4s, then one), and picks each tap's every other value by swizzles; the 8 weights per tap
// are the same addresses in every invocation of a workgroup (the channel group is the grid's z).
// The bias: conv2d_bias.wgsl or conv2d_no_bias.wgsl, composed before this file.

struct Params {
  batch: u32,
  cin: u32, h: u32, w: u32,
  cout: u32, ho: u32, wo: u32,
  pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
// binding 2: the bias, where conv2d_bias.wgsl declares it
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // y
@group(0) @binding(4) var<uniform> params: Params;

// PX and CO are composed by src/gpu/programs/conv2d.ts, which sizes the grid with them; the code
// below is unrolled for these values.
const_assert PX == 8u && CO == 8u;

// acc[2 * c + q] = output channel o0 + c, pixels ow0 + 4q .. ow0 + 4q + 3.
alias Acc = array<vec4<f32>, 16>;

// acc += w (the 8 channels' weights of one tap) x (the tap's input values of pixels 0-3, 4-7).
fn tap(acc: ptr<function, Acc>, wa: vec4<f32>, wb: vec4<f32>, p: vec4<f32>, q: vec4<f32>) {
  (*acc)[0] += wa.x * p; (*acc)[1] += wa.x * q;
  (*acc)[2] += wa.y * p; (*acc)[3] += wa.y * q;
  (*acc)[4] += wa.z * p; (*acc)[5] += wa.z * q;
  (*acc)[6] += wa.w * p; (*acc)[7] += wa.w * q;
  (*acc)[8] += wb.x * p; (*acc)[9] += wb.x * q;
  (*acc)[10] += wb.y * p; (*acc)[11] += wb.y * q;
  (*acc)[12] += wb.z * p; (*acc)[13] += wb.z * q;
  (*acc)[14] += wb.w * p; (*acc)[15] += wb.w * q;
}

// Four values of x from index i on, 0 where `ok` is false (the index is not used then).
fn load4(i: i32, ok: vec4<bool>) -> vec4<f32> {
  let j = select(vec4<i32>(0), vec4<i32>(i) + vec4<i32>(0, 1, 2, 3), ok);
  return select(vec4<f32>(0.0), vec4<f32>(x[j.x], x[j.y], x[j.z], x[j.w]), ok);
}

fn w4(i: vec4<i32>) -> vec4<f32> { return vec4<f32>(weight[i.x], weight[i.y], weight[i.z], weight[i.w]); }

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let item = gid.x + gid.y * nwg.x * 64u;
  let runs = (params.wo + PX - 1u) / PX;
  if (item >= params.batch * params.ho * runs) { return; }  // no barriers or subgroup operations below
  let o0 = wid.z * CO;
  let ow0 = (item % runs) * PX;
  let oh = (item / runs) % params.ho;
  let n = item / (runs * params.ho);

  // Which of the 17 loaded columns iw0 + j lie inside the image.
  let iw0 = 2 * i32(ow0) - i32(params.pad);
  let j = vec4<i32>(0, 1, 2, 3);
  let width = vec4<u32>(params.w);
  let in0 = vec4<u32>(iw0 + j) < width;
  let in1 = vec4<u32>(iw0 + 4 + j) < width;
  let in2 = vec4<u32>(iw0 + 8 + j) < width;
  let in3 = vec4<u32>(iw0 + 12 + j) < width;
  let in16 = u32(iw0 + 16) < params.w;
  // Each channel's weight index at i = r = s = 0; channels past cout read the last one's (not stored).
  let last = vec4<u32>(params.cout - 1u);
  let c4 = vec4<u32>(0u, 1u, 2u, 3u);
  let wa0 = vec4<i32>(min(vec4<u32>(o0) + c4, last) * params.cin * 9u);
  let wb0 = vec4<i32>(min(vec4<u32>(o0 + 4u) + c4, last) * params.cin * 9u);

  var acc = Acc();
  for (var i = 0u; i < params.cin; i++) {
    let plane = i32((n * params.cin + i) * params.h);
    for (var r = 0u; r < 3u; r++) {
      let ih = 2 * i32(oh) + i32(r) - i32(params.pad);
      let rowIn = u32(ih) < params.h;
      let at = (plane + ih) * i32(params.w) + iw0;
      let v0 = load4(at, in0 & vec4<bool>(rowIn));
      let v1 = load4(at + 4, in1 & vec4<bool>(rowIn));
      let v2 = load4(at + 8, in2 & vec4<bool>(rowIn));
      let v3 = load4(at + 12, in3 & vec4<bool>(rowIn));
      let ok16 = rowIn && in16;
      let v16 = select(0.0, x[select(0, at + 16, ok16)], ok16);
      let t = i32(i * 9u + r * 3u);
      // Output pixel p's tap s reads loaded column 2p + s.
      tap(&acc, w4(wa0 + t), w4(wb0 + t), vec4(v0.xz, v1.xz), vec4(v2.xz, v3.xz));
      tap(&acc, w4(wa0 + t + 1), w4(wb0 + t + 1), vec4(v0.yw, v1.yw), vec4(v2.yw, v3.yw));
      tap(&acc, w4(wa0 + t + 2), w4(wb0 + t + 2), vec4(v0.z, v1.xz, v2.x), vec4(v2.z, v3.xz, v16));
    }
  }

  store4(n, o0, oh, ow0, acc[0]); store4(n, o0, oh, ow0 + 4u, acc[1]);
  store4(n, o0 + 1u, oh, ow0, acc[2]); store4(n, o0 + 1u, oh, ow0 + 4u, acc[3]);
  store4(n, o0 + 2u, oh, ow0, acc[4]); store4(n, o0 + 2u, oh, ow0 + 4u, acc[5]);
  store4(n, o0 + 3u, oh, ow0, acc[6]); store4(n, o0 + 3u, oh, ow0 + 4u, acc[7]);
  store4(n, o0 + 4u, oh, ow0, acc[8]); store4(n, o0 + 4u, oh, ow0 + 4u, acc[9]);
  store4(n, o0 + 5u, oh, ow0, acc[10]); store4(n, o0 + 5u, oh, ow0 + 4u, acc[11]);
  store4(n, o0 + 6u, oh, ow0, acc[12]); store4(n, o0 + 6u, oh, ow0 + 4u, acc[13]);
  store4(n, o0 + 7u, oh, ow0, acc[14]); store4(n, o0 + 7u, oh, ow0 + 4u, acc[15]);
}
