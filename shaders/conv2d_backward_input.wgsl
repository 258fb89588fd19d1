// Convolution backward to the input as an implicit GEMM (tile machinery: conv2d_tile.wgsl).
//   dx[n, ci, ih, iw] = sum over (co, r, s) with ih = oh*stride - pad + r, iw = ow*stride - pad + s
//                       for an in-range output pixel (oh, ow) of  w[co, ci, r, s] * dy[n, co, oh, ow]
// With stride > 1 only some taps hit a given input pixel, and which ones depends on the pixel's
// phase (ih mod stride, iw mod stride). So the input pixels are split into stride^2 phases
// (workgroup_id.z), and each phase is its own dense GEMM over only the taps that hit it:
//   phase (ph, pw); its pixels ih = ph + stride*i, iw = pw + stride*j;
//   taps r = r0 + stride*t with r0 = (ph + pad) mod stride, and then oh = i + (ph + pad) div stride - t
//   (same for columns). No tap is visited that does not hit, and no division is needed per tap.
// GEMM view per phase: M = Cin, N = batch * (pixels of the phase), K = Cout * taps(t) * taps(u),
//   A[ci, (co, t, u)] = w[co, ci, r, s],   B[(co, t, u), pixel] = dy[n, co, oh, ow] (0 if outside).
// Staging (see stagerOf in conv2d_tile.wgsl): an invocation fills 4 rows of A for a run of
// RUN_A values of k and 4 columns of B for a run of RUN_B, walking k with a (co, t, u) counter.
// A phase with no taps (1x1 kernel, stride 2, odd pixels) gets zeros. The epilogue hooks are
// composed before this file (conv2d_epilogue_plain.wgsl, or conv2d_epilogue_bn_grad.wgsl: the
// sums of the BN backward of a BN-ReLU that fed the convolution).

struct Params {
  batch: u32, cin: u32, h: u32, w: u32,
  cout: u32, ho: u32, wo: u32,
  kh: u32, kw: u32, stride: u32, pad: u32,
  slots: u32,  // column blocks of all phases: the epilogue's partials per row (conv2d_epilogue_bn_grad.wgsl)
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Pixels of one phase along an axis of `size`, taps that hit them, first tap, and output offset.
struct Phase { count: u32, taps: u32, first: u32, offset: u32 }
fn phaseOf(p: u32, size: u32, ksize: u32) -> Phase {
  let st = params.stride;
  var count = 0u;
  if (p < size) { count = (size - p + st - 1u) / st; }
  let first = (p + params.pad) % st;
  var taps = 0u;
  if (first < ksize) { taps = (ksize - first + st - 1u) / st; }
  return Phase(count, taps, first, (p + params.pad) / st);
}

// dx[n, ci, ih, iw] for column col = (n, pixel i, j of phase (ph, pw)) and rows ci = row0 + i,
// row0 + HALF_M + i.
var<private> phase: vec2<u32>;  // (ph, pw) of this workgroup
var<private> phaseRows: u32;    // pixel rows of the phase (py.count)
var<private> phaseCols: u32;    // pixels of the phase per row (px.count)
fn storeColumn(row0: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  let phasePix = phaseCols * phaseRows;
  if (col >= params.batch * phasePix) { return; }
  let st = params.stride;
  let q = col % phasePix;
  let hw = params.h * params.w;
  let base = (col / phasePix) * params.cin * hw + (phase.x + st * (q / phaseCols)) * params.w + phase.y + st * (q % phaseCols);
  recordColumn(row0, base, hw, lo, hi);
  for (var i = 0u; i < 4u; i++) {
    if (row0 + i < params.cin) { dx[base + (row0 + i) * hw] = lo[i]; }
    if (row0 + HALF_M + i < params.cin) { dx[base + (row0 + HALF_M + i) * hw] = hi[i]; }
  }
}

// Four values of weight (gatherA) or dy (gatherB) at `index`, 0 where `ok` is false.
fn gatherA(index: vec4<u32>, ok: vec4<bool>) -> vec4<f32> {
  let i = select(vec4<u32>(0u), index, ok);
  return select(vec4<f32>(0.0), vec4<f32>(weight[i.x], weight[i.y], weight[i.z], weight[i.w]), ok);
}
fn gatherB(index: vec4<u32>, ok: vec4<bool>) -> vec4<f32> {
  let i = select(vec4<u32>(0u), index, ok);
  return select(vec4<f32>(0.0), vec4<f32>(dy[i.x], dy[i.y], dy[i.z], dy[i.w]), ok);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let st = params.stride;
  let ph = wid.z / st;
  let pw = wid.z % st;
  let py = phaseOf(ph, params.h, params.kh);
  let px = phaseOf(pw, params.w, params.kw);
  phase = vec2<u32>(ph, pw);
  phaseRows = py.count;
  phaseCols = px.count;
  let M = params.cin;
  let phasePix = py.count * px.count;
  let N = params.batch * phasePix;
  let taps = py.taps * px.taps;
  let K = params.cout * taps;
  let blk = blockOf(li);
  let hoWo = params.ho * params.wo;
  let khkw = params.kh * params.kw;
  let WO = i32(params.wo);
  let sg = stagerOf(li);
  // The column blocks of the phases before this one: where this phase's epilogue slots start.
  var slot0 = 0u;
  for (var z = 0u; z < wid.z; z++) {
    let pz = phaseOf(z / st, params.h, params.kh).count * phaseOf(z % st, params.w, params.kw).count;
    slot0 += (params.batch * pz + TN - 1u) / TN;
  }
  for (var tile = firstTile(wid, nwg); tile < tileCount(M, N); tile += tileStep(nwg)) {
    let origin = tileOrigin(tile, N);
    var acc = Acc();  // explicit zero: a bare `var acc: Acc;` in the loop was not re-zeroed per tile (Dawn + SwiftShader)

    // A: the 4 input channels this invocation stages.
    let ci = groupOf(origin.x, sg.qa);
    let rowOk = ci < vec4<u32>(M);
    let wCi = ci * khkw;
    // B: the 4 input pixels of this phase it stages (N > 0 here, so phasePix and px.count are
    // too), as the output pixel (oh0, ow0) that tap (t, u) = (0, 0) reads, and its index in dy.
    let cols = columnsOf(origin.y, sg.qb);
    let colOk = cols < vec4<u32>(N);
    let pix = cols % phasePix;
    let oh0 = select(vec4<i32>(OUTSIDE), vec4<i32>(pix / px.count + py.offset), colOk);  // OUTSIDE: masked below
    let ow0 = vec4<i32>(pix % px.count + px.offset);
    let dyTap0 = vec4<i32>((cols / phasePix) * (params.cout * hoWo)) + oh0 * WO + ow0;

    for (var k0 = 0u; k0 < K; k0 += TK) {
      if (li < STAGERS_A) {
        var k = k0 + sg.kRunA;  // k = (co, tr, ts), advanced one k at a time
        var co = k / taps;
        var tr = (k % taps) / px.taps;
        var ts = k % px.taps;
        for (var j = 0u; j < RUN_A; j++) {
          let wTap = (co * params.cin * params.kh + py.first + st * tr) * params.kw + px.first + st * ts;
          stageA(sg.kRunA + j, sg.qa, gatherA(wCi + wTap, rowOk & vec4<bool>(k < K)));
          k++;
          ts++;
          if (ts == px.taps) { ts = 0u; tr++; if (tr == py.taps) { tr = 0u; co++; } }
        }
      }
      var k = k0 + sg.kRunB;  // the same walk for B's run
      var co = k / taps;
      var tr = (k % taps) / px.taps;
      var ts = k % px.taps;
      for (var j = 0u; j < RUN_B; j++) {
        let oh = oh0 - i32(tr);
        let ow = ow0 - i32(ts);
        let inside = vec4<bool>(k < K) & (vec4<u32>(oh) < vec4<u32>(params.ho)) & (vec4<u32>(ow) < vec4<u32>(params.wo));
        stageB(sg.kRunB + j, sg.qb, gatherB(vec4<u32>(dyTap0 + i32(co * hoWo) - i32(tr * params.wo + ts)), inside));
        k++;
        ts++;
        if (ts == px.taps) { ts = 0u; tr++; if (tr == py.taps) { tr = 0u; co++; } }
      }
      multiplyStaged(&acc, blk);
    }

    tileBegin(origin.x + 4u * blk.y, M);
    storeBlock(&acc, origin.x, origin.y, blk.x, blk.y);
    tileEnd(li, blk, origin.x, slot0 + origin.y / TN, M);
  }
}
