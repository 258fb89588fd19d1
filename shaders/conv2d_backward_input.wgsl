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
// Staging: invocation li owns row li of A and column li of B; both walk k with one (co, t, u)
// counter. A phase with no taps (1x1 kernel, stride 2, odd pixels) gets zeros.

struct Params {
  batch: u32, cin: u32, h: u32, w: u32,
  cout: u32, ho: u32, wo: u32,
  kh: u32, kw: u32, stride: u32, pad: u32,
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
// row0 + 32 + i.
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
  for (var i = 0u; i < 4u; i++) {
    if (row0 + i < params.cin) { dx[base + (row0 + i) * hw] = lo[i]; }
    if (row0 + 32u + i < params.cin) { dx[base + (row0 + 32u + i) * hw] = hi[i]; }
  }
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
  let K = params.cout * py.taps * px.taps;
  let tx = li % 8u;
  let ty = li / 8u;
  let hoWo = params.ho * params.wo;
  let khkw = params.kh * params.kw;
  let HO = i32(params.ho);
  let WO = i32(params.wo);
  for (var tile = firstTile(wid, nwg); tile < tileCount(M, N); tile += tileStep(nwg)) {
    let origin = tileOrigin(tile, N);
    let m0 = origin.x;
    let n0 = origin.y;
    clearAcc();

    // B column li: an input pixel of this phase (N > 0 here, so phasePix and px.count are too).
    let col = n0 + li;
    let colOk = col < N;
    let q = col % phasePix;
    let oh0 = i32(q / px.count + py.offset);
    let ow0 = i32(q % px.count + px.offset);
    let dyImg = (col / phasePix) * params.cout * hoWo;
    // A row li: an input channel.
    let ci = m0 + li;
    let rowOk = ci < M;

    var co = 0u;  // k = (co, tr, ts), advanced one k at a time
    var tr = 0u;
    var ts = 0u;
    for (var k0 = 0u; k0 < K; k0 += TK) {
      for (var kk = 0u; kk < TK; kk++) {
        let inK = k0 + kk < K;
        var a = 0.0;
        if (rowOk && inK) {
          a = weight[(co * params.cin + ci) * khkw + (py.first + st * tr) * params.kw + px.first + st * ts];
        }
        setA(kk, li, a);
        let oh = oh0 - i32(tr);
        let ow = ow0 - i32(ts);
        var b = 0.0;
        if (colOk && inK && oh >= 0 && oh < HO && ow >= 0 && ow < WO) {
          b = dy[dyImg + co * hoWo + u32(oh) * params.wo + u32(ow)];
        }
        setB(kk, li, b);
        ts++;
        if (ts == px.taps) { ts = 0u; tr++; if (tr == py.taps) { tr = 0u; co++; } }
      }
      workgroupBarrier();
      multiplyTiles(tx, ty);
      workgroupBarrier();
    }

    storeBlock(m0, n0, tx, ty);
  }
}
