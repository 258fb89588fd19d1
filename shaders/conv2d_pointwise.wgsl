// A 1x1 convolution computed directly (the WRN shortcut's projection, stride 1 or 2), without a
// GEMM tile or workgroup memory: the forward on x, and the input gradient on dy with the weights
// read transposed (wO, wI) and the strided gather inverted (mul, add, div below):
//   out[n, o, oh, ow] = bias[o] + sum_i weight[o*wO + i*wI] * src[n, i, map(oh), map(ow)]
// with map(t) = (t * mul + add) / div, the term 0 unless t * mul + add >= 0, divides by div and
// the quotient lies inside src. Forward: mul = stride, add = -pad, div = 1 (x[oh * stride - pad]).
// Input gradient: mul = 1, add = pad, div = stride (dx[ih] takes dy[(ih + pad) / stride] where
// that divides: the other input pixels feed no output and get 0).
// Each invocation computes CO = 8 output channels of PX = 8 adjacent pixels of one output row;
// per input channel it loads the 8 source values once and 8 weights (the same addresses in every
// invocation of a workgroup: the channel group is the grid's z). The bias: conv2d_bias.wgsl or
// conv2d_no_bias.wgsl, composed before this file.

struct Params {
  batch: u32,
  cin: u32,   // channels of src
  h: u32, w: u32,
  cout: u32,  // channels of out
  ho: u32, wo: u32,
  mul: i32, add: i32, div: i32,
  wO: u32, wI: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
// binding 2: the bias, where conv2d_bias.wgsl declares it
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// PX and CO are composed by src/gpu/programs/conv2d.ts, which sizes the grid with them.
const_assert PX == 8u && CO == 8u;

// The source coordinate of output coordinate t along an axis of `size` src values, -1 where the term is 0.
fn srcOf(t: u32, size: u32) -> i32 {
  let u = i32(t) * params.mul + params.add;
  let q = u / params.div;
  return select(-1, q, u >= 0 && u % params.div == 0 && u32(q) < size);
}

// src[base + cols], 0 where `ok` is false (the index is not used then).
fn load4(base: i32, cols: vec4<i32>, ok: vec4<bool>) -> vec4<f32> {
  let j = select(vec4<i32>(0), vec4<i32>(base) + cols, ok);
  return select(vec4<f32>(0.0), vec4<f32>(src[j.x], src[j.y], src[j.z], src[j.w]), ok);
}

// Output channel o0 + c's weight for source channel i (channels past cout read the last one's: not stored).
fn w8(o0: u32, i: u32) -> array<vec4<f32>, 2> {
  let last = params.cout - 1u;
  let a = (min(vec4<u32>(o0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last))) * params.wO + i * params.wI;
  let b = (min(vec4<u32>(o0 + 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last))) * params.wO + i * params.wI;
  return array<vec4<f32>, 2>(vec4<f32>(weight[a.x], weight[a.y], weight[a.z], weight[a.w]), vec4<f32>(weight[b.x], weight[b.y], weight[b.z], weight[b.w]));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let item = gid.x + gid.y * nwg.x * 64u;
  let runs = (params.wo + PX - 1u) / PX;
  if (item >= params.batch * params.ho * runs) { return; }  // no barriers or subgroup operations below
  let o0 = wid.z * CO;
  let ow0 = (item % runs) * PX;
  let oh = (item / runs) % params.ho;
  let n = item / (runs * params.ho);

  // The source row and the 8 pixels' source columns; a term outside (or skipped by the stride) is 0.
  let ih = srcOf(oh, params.h);
  let c0 = vec4<i32>(srcOf(ow0, params.w), srcOf(ow0 + 1u, params.w), srcOf(ow0 + 2u, params.w), srcOf(ow0 + 3u, params.w));
  let c1 = vec4<i32>(srcOf(ow0 + 4u, params.w), srcOf(ow0 + 5u, params.w), srcOf(ow0 + 6u, params.w), srcOf(ow0 + 7u, params.w));
  let rowIn = ih >= 0;
  let rowOk = vec4<bool>(rowIn);
  let ok0 = (c0 >= vec4<i32>(0)) & rowOk;
  let ok1 = (c1 >= vec4<i32>(0)) & rowOk;

  // acc[2 * c + q] = output channel o0 + c, pixels ow0 + 4q .. ow0 + 4q + 3 (constant indices only).
  var acc = array<vec4<f32>, 16>();
  for (var i = 0u; i < params.cin; i++) {
    let base = (i32((n * params.cin + i) * params.h) + max(ih, 0)) * i32(params.w);
    let x0 = load4(base, c0, ok0);
    let x1 = load4(base, c1, ok1);
    let w = w8(o0, i);
    let wa = w[0];
    let wb = w[1];
    acc[0] += wa.x * x0; acc[1] += wa.x * x1;
    acc[2] += wa.y * x0; acc[3] += wa.y * x1;
    acc[4] += wa.z * x0; acc[5] += wa.z * x1;
    acc[6] += wa.w * x0; acc[7] += wa.w * x1;
    acc[8] += wb.x * x0; acc[9] += wb.x * x1;
    acc[10] += wb.y * x0; acc[11] += wb.y * x1;
    acc[12] += wb.z * x0; acc[13] += wb.z * x1;
    acc[14] += wb.w * x0; acc[15] += wb.w * x1;
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
