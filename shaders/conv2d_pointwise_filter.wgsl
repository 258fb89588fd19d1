// The filter gradient of a 1x1 convolution (any stride and pad) computed directly, without a GEMM
// tile or workgroup memory (the forward and the input gradient: conv2d_pointwise.wgsl):
//   dw[o, i] = sum_{n, oh, ow} dy[n, o, oh, ow] * x[n, i, oh * stride - pad, ow * stride - pad]
// The sum over the batch's output rows (n, oh) is split: invocation (split, channel group, i)
// sums rows [split * chunk, (split + 1) * chunk) into partials[split] (conv2d_reduce.wgsl adds the
// splits up). Per row and run of 4 pixels it loads 4 values of x once for its CO = 8 output
// channels' runs of dy. One item per invocation, i fastest (adjacent invocations read adjacent
// input planes and the same dy).

struct Params {
  batch: u32, cin: u32, h: u32, w: u32,
  cout: u32, ho: u32, wo: u32,
  stride: u32, pad: u32,
  chunk: u32,  // output rows per split
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;  // [splits][cout * cin]
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 64u;
// CO is composed by src/gpu/programs/conv2d.ts, which sizes the grid with it.
const_assert CO == 8u;

// dy[n, o, oh, ow .. ow + 3], 0 past the row's end or for a channel past cout.
fn run4(n: u32, o: u32, oh: u32, ow: u32) -> vec4<f32> {
  let ok = (vec4<u32>(ow) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(params.wo)) & vec4<bool>(o < params.cout);
  let at = ((n * params.cout + min(o, params.cout - 1u)) * params.ho + oh) * params.wo + ow;
  let j = select(vec4<u32>(0u), vec4<u32>(at) + vec4<u32>(0u, 1u, 2u, 3u), ok);
  return select(vec4<f32>(0.0), vec4<f32>(dy[j.x], dy[j.y], dy[j.z], dy[j.w]), ok);
}

fn store(split: u32, o: u32, i: u32, v: vec4<f32>) {
  if (o >= params.cout) { return; }
  partials[split * params.cout * params.cin + o * params.cin + i] = (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let item = gid.x + gid.y * nwg.x * WG;
  let groups = (params.cout + CO - 1u) / CO;
  let rows = params.batch * params.ho;
  let splits = (rows + params.chunk - 1u) / params.chunk;
  if (item >= params.cin * groups * splits) { return; }  // no barriers below
  let i = item % params.cin;
  let o0 = ((item / params.cin) % groups) * CO;
  let split = item / (params.cin * groups);

  var a0 = vec4<f32>(); var a1 = vec4<f32>(); var a2 = vec4<f32>(); var a3 = vec4<f32>();
  var a4 = vec4<f32>(); var a5 = vec4<f32>(); var a6 = vec4<f32>(); var a7 = vec4<f32>();
  let end = min(rows, (split + 1u) * params.chunk);
  let q = vec4<u32>(0u, 1u, 2u, 3u);
  for (var row = split * params.chunk; row < end; row++) {
    let n = row / params.ho;
    let oh = row % params.ho;
    let ih = i32(oh * params.stride) - i32(params.pad);
    if (u32(ih) >= params.h) { continue; }  // the row reads only padding: every term is 0
    let base = ((n * params.cin + i) * params.h + u32(ih)) * params.w;
    for (var ow = 0u; ow < params.wo; ow += 4u) {
      let iw = vec4<i32>((vec4<u32>(ow) + q) * params.stride) - vec4<i32>(i32(params.pad));
      let ok = (vec4<u32>(iw) < vec4<u32>(params.w)) & (vec4<u32>(ow) + q < vec4<u32>(params.wo));
      let j = select(vec4<u32>(0u), vec4<u32>(base) + vec4<u32>(iw), ok);
      let xv = select(vec4<f32>(0.0), vec4<f32>(x[j.x], x[j.y], x[j.z], x[j.w]), ok);
      a0 += run4(n, o0, oh, ow) * xv;
      a1 += run4(n, o0 + 1u, oh, ow) * xv;
      a2 += run4(n, o0 + 2u, oh, ow) * xv;
      a3 += run4(n, o0 + 3u, oh, ow) * xv;
      a4 += run4(n, o0 + 4u, oh, ow) * xv;
      a5 += run4(n, o0 + 5u, oh, ow) * xv;
      a6 += run4(n, o0 + 6u, oh, ow) * xv;
      a7 += run4(n, o0 + 7u, oh, ow) * xv;
    }
  }
  store(split, o0, i, a0);
  store(split, o0 + 1u, i, a1);
  store(split, o0 + 2u, i, a2);
  store(split, o0 + 3u, i, a3);
  store(split, o0 + 4u, i, a4);
  store(split, o0 + 5u, i, a5);
  store(split, o0 + 6u, i, a6);
  store(split, o0 + 7u, i, a7);
}
