// The filter gradient of a 3x3, stride-1 convolution computed directly, without a GEMM tile or
// workgroup memory (conv2d v4, for layers with few output channels; the forward and the input
// gradient: conv2d_direct.wgsl):
//   dw[o, i, r, s] = sum_{n, oh, ow} dy[n, o, oh, ow] * x[n, i, oh - pad + r, ow - pad + s]
// The sum over the batch's output rows (n, oh) is split: invocation (split, channel group, i)
// sums rows [split * chunk, (split + 1) * chunk) into partials[split] (conv2d_reduce.wgsl adds the
// splits up). Per output row and run of 16 pixels it loads the 3 input rows' 18 values once for
// all 9 taps (20 loaded) and 16 values of dy for each of its 8 channels, which are the same
// values in every invocation of a workgroup under the subgroup layout (they differ only in i).
// Where the invocations sit and how dy is read is composed before this file:
// conv2d_direct_filter_plain.wgsl (one item per invocation, each loading its own dy) or, with
// subgroups, conv2d_direct_filter_subgroup.wgsl (a workgroup per split and channel group, its
// invocations the input channels, each lane loading a quarter of a run and subgroupBroadcast
// sharing it). They define Ids, placeOf (an invocation's input channel), groupOf and splitOf (its
// output channels and rows: separate functions of workgroup_id, so that under the subgroup layout
// the loops are seen to be uniform, as subgroupBroadcast requires) and loadRun; WG is a composed
// constant.

struct Params {
  batch: u32, cin: u32, h: u32, w: u32,
  cout: u32, ho: u32, wo: u32,
  pad: u32,
  chunk: u32,  // output rows per split
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;  // [splits][cout * cin * 9]
@group(0) @binding(3) var<uniform> params: Params;

// PX (pixels of a run) and CO (output channels per invocation) are composed by
// src/gpu/programs/conv2d.ts, which sizes the grid with them; the code is unrolled for these values.
const_assert PX == 16u && CO == 8u;

// An invocation's input channel i, whether it stores (live), its subgroup_invocation_id (0
// without subgroups).
struct Place { i: u32, live: bool, lane: u32 }

struct Row { v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>, v4: vec4<f32> }  // 20 input values from iw0 on
struct Run { d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32> }                // 16 values of dy
// Per tap (3r + s): the sum of the products so far.
alias Taps = array<f32, 9>;

// The sums of the products of the run d with kernel row x's three taps.
fn rowTaps(d: Run, x: Row) -> vec3<f32> {
  let t0 = dot(d.d0, x.v0) + dot(d.d1, x.v1) + dot(d.d2, x.v2) + dot(d.d3, x.v3);
  let t1 = dot(d.d0, vec4(x.v0.yzw, x.v1.x)) + dot(d.d1, vec4(x.v1.yzw, x.v2.x)) + dot(d.d2, vec4(x.v2.yzw, x.v3.x)) + dot(d.d3, vec4(x.v3.yzw, x.v4.x));
  let t2 = dot(d.d0, vec4(x.v0.zw, x.v1.xy)) + dot(d.d1, vec4(x.v1.zw, x.v2.xy)) + dot(d.d2, vec4(x.v2.zw, x.v3.xy)) + dot(d.d3, vec4(x.v3.zw, x.v4.xy));
  return vec3(t0, t1, t2);
}

fn accumulate(t: ptr<function, Taps>, d: Run, r0: Row, r1: Row, r2: Row) {
  let a = rowTaps(d, r0);
  let b = rowTaps(d, r1);
  let c = rowTaps(d, r2);
  (*t)[0] += a.x; (*t)[1] += a.y; (*t)[2] += a.z;
  (*t)[3] += b.x; (*t)[4] += b.y; (*t)[5] += b.z;
  (*t)[6] += c.x; (*t)[7] += c.y; (*t)[8] += c.z;
}

fn load4x(i: i32, ok: vec4<bool>) -> vec4<f32> {
  let j = select(vec4<i32>(0), vec4<i32>(i) + vec4<i32>(0, 1, 2, 3), ok);
  return select(vec4<f32>(0.0), vec4<f32>(x[j.x], x[j.y], x[j.z], x[j.w]), ok);
}
fn load4dy(i: u32, ok: vec4<bool>) -> vec4<f32> {
  let j = select(vec4<u32>(0u), vec4<u32>(i) + vec4<u32>(0u, 1u, 2u, 3u), ok);
  return select(vec4<f32>(0.0), vec4<f32>(dy[j.x], dy[j.y], dy[j.z], dy[j.w]), ok);
}

// The input values of kernel row ih (20 from iw0 on), 0 outside the image.
fn loadRow(plane: i32, ih: i32, iw0: i32) -> Row {
  let j = vec4<i32>(0, 1, 2, 3);
  let width = vec4<u32>(params.w);
  let rowIn = vec4<bool>(u32(ih) < params.h);
  let at = (plane + ih) * i32(params.w) + iw0;
  return Row(
    load4x(at, (vec4<u32>(iw0 + j) < width) & rowIn),
    load4x(at + 4, (vec4<u32>(iw0 + 4 + j) < width) & rowIn),
    load4x(at + 8, (vec4<u32>(iw0 + 8 + j) < width) & rowIn),
    load4x(at + 12, (vec4<u32>(iw0 + 12 + j) < width) & rowIn),
    load4x(at + 16, (vec4<u32>(iw0 + 16 + j) < width) & rowIn),
  );
}

fn store(split: u32, o: u32, i: u32, t: Taps) {
  if (o >= params.cout) { return; }
  let at = split * params.cout * params.cin * 9u + (o * params.cin + i) * 9u;
  partials[at] = t[0]; partials[at + 1u] = t[1]; partials[at + 2u] = t[2];
  partials[at + 3u] = t[3]; partials[at + 4u] = t[4]; partials[at + 5u] = t[5];
  partials[at + 6u] = t[6]; partials[at + 7u] = t[7]; partials[at + 8u] = t[8];
}

// Whether dy[n, o, oh, ow .. ow + 3] lies inside the row and o inside cout.
fn runMask(o: u32, ow: u32) -> vec4<bool> {
  return (vec4<u32>(ow) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(params.wo)) & vec4<bool>(o < params.cout);
}
// The index of dy[n, o, oh, ow0] (o clamped into cout).
fn runAt(n: u32, o: u32, oh: u32, ow0: u32) -> u32 {
  return ((n * params.cout + min(o, params.cout - 1u)) * params.ho + oh) * params.wo + ow0;
}

@compute @workgroup_size(WG)
fn main(ids: Ids, @builtin(workgroup_id) wid: vec3<u32>) {
  let p = placeOf(ids);
  let i = p.i;
  let o0 = groupOf(ids, wid) * CO;
  let split = splitOf(ids, wid);
  let rows = params.batch * params.ho;
  var t0 = Taps();
  var t1 = Taps();
  var t2 = Taps();
  var t3 = Taps();
  var t4 = Taps();
  var t5 = Taps();
  var t6 = Taps();
  var t7 = Taps();
  let runs = (params.wo + PX - 1u) / PX;
  let end = min(rows, (split + 1u) * params.chunk);
  for (var row = split * params.chunk; row < end; row++) {
    let n = row / params.ho;
    let oh = row % params.ho;
    let plane = i32((n * params.cin + i) * params.h);
    let ih = i32(oh) - i32(params.pad);
    for (var run = 0u; run < runs; run++) {
      let ow0 = run * PX;
      let iw0 = i32(ow0) - i32(params.pad);
      let r0 = loadRow(plane, ih, iw0);
      let r1 = loadRow(plane, ih + 1, iw0);
      let r2 = loadRow(plane, ih + 2, iw0);
      accumulate(&t0, loadRun(n, o0, oh, ow0, p.lane), r0, r1, r2);
      accumulate(&t1, loadRun(n, o0 + 1u, oh, ow0, p.lane), r0, r1, r2);
      accumulate(&t2, loadRun(n, o0 + 2u, oh, ow0, p.lane), r0, r1, r2);
      accumulate(&t3, loadRun(n, o0 + 3u, oh, ow0, p.lane), r0, r1, r2);
      accumulate(&t4, loadRun(n, o0 + 4u, oh, ow0, p.lane), r0, r1, r2);
      accumulate(&t5, loadRun(n, o0 + 5u, oh, ow0, p.lane), r0, r1, r2);
      accumulate(&t6, loadRun(n, o0 + 6u, oh, ow0, p.lane), r0, r1, r2);
      accumulate(&t7, loadRun(n, o0 + 7u, oh, ow0, p.lane), r0, r1, r2);
    }
  }
  if (!p.live) { return; }
  store(split, o0, i, t0);
  store(split, o0 + 1u, i, t1);
  store(split, o0 + 2u, i, t2);
  store(split, o0 + 3u, i, t3);
  store(split, o0 + 4u, i, t4);
  store(split, o0 + 5u, i, t5);
  store(split, o0 + 6u, i, t6);
  store(split, o0 + 7u, i, t7);
}
