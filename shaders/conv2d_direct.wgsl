// A 3x3, stride-1 convolution computed directly, without a GEMM tile or workgroup memory (conv2d
// v4, for layers with few output channels). The forward runs it on x; the input gradient runs it
// on dy with the weights read transposed and flipped (wBase and the w* strides below), since for
// stride 1 dx = conv(dy, w[co, ci, 2 - r, 2 - s] as [ci, co, r, s], pad 2 - pad).
//   out[n, o, oh, ow] = bias[o] + sum_{i, r, s} weight[wBase + o*wO + i*wI + r*wR + s*wS] * src[n, i, oh - pad + r, ow - pad + s]
// Each invocation computes CO = 8 output channels of PX = 16 adjacent pixels of one output row:
// per input channel and kernel row it loads the 18 input values the row's 3 taps need once
// (where an implicit GEMM gathers 48), and 8 weights per tap, which are the same address in
// every invocation of a SIMD group (invocations that share o0 differ only in their pixels).
// On a CPU adapter this beats the tiled GEMM when M (output channels) is 16 or 32: the tile there
// is 16x256 or 32x128, which stages more and passes more barriers per FMA (src/gpu/versions.ts).
// How the weights are read is composed before this file: conv2d_direct_weights_plain.wgsl or,
// with subgroups, conv2d_direct_weights_subgroup.wgsl (they define Ids, laneOf and weights4); the
// bias too (biasOf: conv2d_bias.wgsl, or conv2d_no_bias.wgsl for the input gradient and a forward
// without bias).

struct Params {
  batch: u32,
  cin: u32,   // channels of src
  h: u32, w: u32,
  cout: u32,  // channels of out
  ho: u32, wo: u32,
  pad: u32,
  wBase: i32, wO: i32, wI: i32, wR: i32, wS: i32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
// binding 2: the bias, where conv2d_bias.wgsl declares it
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// PX (pixels of a run) and CO (output channels) are composed by src/gpu/programs/conv2d.ts, which
// sizes the grid with them; the code below is unrolled for these values.
const_assert PX == 16u && CO == 8u;

// acc[4 * c + q] = output channel o0 + c, pixels ow0 + 4q .. ow0 + 4q + 3.
alias Acc = array<vec4<f32>, 32>;

// acc += w (the 8 channels' weights of one tap) x xs (the tap's 16 input values).
fn tap(acc: ptr<function, Acc>, w0: vec4<f32>, w1: vec4<f32>, a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) {
  (*acc)[0] += w0.x * a; (*acc)[1] += w0.x * b; (*acc)[2] += w0.x * c; (*acc)[3] += w0.x * d;
  (*acc)[4] += w0.y * a; (*acc)[5] += w0.y * b; (*acc)[6] += w0.y * c; (*acc)[7] += w0.y * d;
  (*acc)[8] += w0.z * a; (*acc)[9] += w0.z * b; (*acc)[10] += w0.z * c; (*acc)[11] += w0.z * d;
  (*acc)[12] += w0.w * a; (*acc)[13] += w0.w * b; (*acc)[14] += w0.w * c; (*acc)[15] += w0.w * d;
  (*acc)[16] += w1.x * a; (*acc)[17] += w1.x * b; (*acc)[18] += w1.x * c; (*acc)[19] += w1.x * d;
  (*acc)[20] += w1.y * a; (*acc)[21] += w1.y * b; (*acc)[22] += w1.y * c; (*acc)[23] += w1.y * d;
  (*acc)[24] += w1.z * a; (*acc)[25] += w1.z * b; (*acc)[26] += w1.z * c; (*acc)[27] += w1.z * d;
  (*acc)[28] += w1.w * a; (*acc)[29] += w1.w * b; (*acc)[30] += w1.w * c; (*acc)[31] += w1.w * d;
}

// Four values of src from index i on, 0 where `ok` is false (the index is not used then).
fn load4(i: i32, ok: vec4<bool>) -> vec4<f32> {
  let j = select(vec4<i32>(0), vec4<i32>(i) + vec4<i32>(0, 1, 2, 3), ok);
  return select(vec4<f32>(0.0), vec4<f32>(src[j.x], src[j.y], src[j.z], src[j.w]), ok);
}

@compute @workgroup_size(64)
fn main(ids: Ids) {
  // The channel group is the grid's z, so every invocation of a workgroup shares its weights;
  // within it the item order is the pixel run (fastest), the row, the image.
  let item = ids.gid.x + ids.gid.y * ids.nwg.x * 64u;
  let runs = (params.wo + PX - 1u) / PX;
  let perGroup = params.batch * params.ho * runs;
  // Past the end: compute (on a valid item) but store nothing, so that subgroup operations see
  // every lane (the weights may come through subgroupBroadcast).
  let live = item < perGroup;
  let o0 = ids.wid.z * CO;
  let lane = laneOf(ids);
  let rest = min(item, perGroup - 1u);
  let ow0 = (rest % runs) * PX;
  let oh = (rest / runs) % params.ho;
  let n = rest / (runs * params.ho);

  // Which of the 20 loaded columns iw0 + j lie inside the image (18 are used).
  let iw0 = i32(ow0) - i32(params.pad);
  let j = vec4<i32>(0, 1, 2, 3);
  let width = vec4<u32>(params.w);
  let in0 = vec4<u32>(iw0 + j) < width;
  let in1 = vec4<u32>(iw0 + 4 + j) < width;
  let in2 = vec4<u32>(iw0 + 8 + j) < width;
  let in3 = vec4<u32>(iw0 + 12 + j) < width;
  let in4 = vec4<u32>(iw0 + 16 + j) < width;
  // Each channel's weight index at i = r = s = 0; channels past cout read the last one's (not stored).
  let last = params.cout - 1u;
  let c4 = vec4<u32>(0u, 1u, 2u, 3u);
  let w0 = vec4<i32>(min(vec4<u32>(o0) + c4, vec4<u32>(last))) * params.wO + params.wBase;
  let w1 = vec4<i32>(min(vec4<u32>(o0 + 4u) + c4, vec4<u32>(last))) * params.wO + params.wBase;

  var acc = Acc();
  for (var i = 0u; i < params.cin; i++) {
    let plane = i32((n * params.cin + i) * params.h);
    for (var r = 0u; r < 3u; r++) {
      let ih = i32(oh + r) - i32(params.pad);
      let rowIn = vec4<bool>(u32(ih) < params.h);
      let at = (plane + ih) * i32(params.w) + iw0;
      let x0 = load4(at, in0 & rowIn);
      let x1 = load4(at + 4, in1 & rowIn);
      let x2 = load4(at + 8, in2 & rowIn);
      let x3 = load4(at + 12, in3 & rowIn);
      let x4 = load4(at + 16, in4 & rowIn);
      let t = i32(i) * params.wI + i32(r) * params.wR;
      let s1 = t + params.wS;
      let s2 = t + 2 * params.wS;
      tap(&acc, weights4(w0 + t, lane), weights4(w1 + t, lane), x0, x1, x2, x3);
      tap(&acc, weights4(w0 + s1, lane), weights4(w1 + s1, lane), vec4(x0.yzw, x1.x), vec4(x1.yzw, x2.x), vec4(x2.yzw, x3.x), vec4(x3.yzw, x4.x));
      tap(&acc, weights4(w0 + s2, lane), weights4(w1 + s2, lane), vec4(x0.zw, x1.xy), vec4(x1.zw, x2.xy), vec4(x2.zw, x3.xy), vec4(x3.zw, x4.xy));
    }
  }

  if (!live) { return; }
  // Constant indices only (a CPU adapter turns a dynamically indexed private array into a select over all of it).
  store4(n, o0, oh, ow0, acc[0]); store4(n, o0, oh, ow0 + 4u, acc[1]); store4(n, o0, oh, ow0 + 8u, acc[2]); store4(n, o0, oh, ow0 + 12u, acc[3]);
  store4(n, o0 + 1u, oh, ow0, acc[4]); store4(n, o0 + 1u, oh, ow0 + 4u, acc[5]); store4(n, o0 + 1u, oh, ow0 + 8u, acc[6]); store4(n, o0 + 1u, oh, ow0 + 12u, acc[7]);
  store4(n, o0 + 2u, oh, ow0, acc[8]); store4(n, o0 + 2u, oh, ow0 + 4u, acc[9]); store4(n, o0 + 2u, oh, ow0 + 8u, acc[10]); store4(n, o0 + 2u, oh, ow0 + 12u, acc[11]);
  store4(n, o0 + 3u, oh, ow0, acc[12]); store4(n, o0 + 3u, oh, ow0 + 4u, acc[13]); store4(n, o0 + 3u, oh, ow0 + 8u, acc[14]); store4(n, o0 + 3u, oh, ow0 + 12u, acc[15]);
  store4(n, o0 + 4u, oh, ow0, acc[16]); store4(n, o0 + 4u, oh, ow0 + 4u, acc[17]); store4(n, o0 + 4u, oh, ow0 + 8u, acc[18]); store4(n, o0 + 4u, oh, ow0 + 12u, acc[19]);
  store4(n, o0 + 5u, oh, ow0, acc[20]); store4(n, o0 + 5u, oh, ow0 + 4u, acc[21]); store4(n, o0 + 5u, oh, ow0 + 8u, acc[22]); store4(n, o0 + 5u, oh, ow0 + 12u, acc[23]);
  store4(n, o0 + 6u, oh, ow0, acc[24]); store4(n, o0 + 6u, oh, ow0 + 4u, acc[25]); store4(n, o0 + 6u, oh, ow0 + 8u, acc[26]); store4(n, o0 + 6u, oh, ow0 + 12u, acc[27]);
  store4(n, o0 + 7u, oh, ow0, acc[28]); store4(n, o0 + 7u, oh, ow0 + 4u, acc[29]); store4(n, o0 + 7u, oh, ow0 + 8u, acc[30]); store4(n, o0 + 7u, oh, ow0 + 12u, acc[31]);
}
