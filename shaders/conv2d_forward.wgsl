// Convolution forward as an implicit GEMM (tile machinery: conv2d_tile.wgsl, prepended).
//   y[n, co, oh, ow] = bias[co] + sum_{ci, r, s} w[co, ci, r, s] * x[n, ci, oh*stride - pad + r, ow*stride - pad + s]
// GEMM view: M = Cout (rows), N = batch*Ho*Wo (columns: output pixels, image-major, so a row of C
// is contiguous in y within an image), K = Cin*KH*KW with k = (ci, r, s) as in w's layout.
//   A[co, k] = w viewed as [Cout, K] (row-major already);
//   B[k, col] = x at the tap (im2col), gathered while staging, zero outside the image.
// Staging: A with consecutive invocations reading consecutive k of a weight row (coalesced);
// B with invocation li owning column li of the tile: it decodes its pixel once and walks k with a
// (ci, r, s) counter, so the loop has no divisions. The bias is added in the epilogue.

override HAS_BIAS: u32 = 0u;

struct Params {
  batch: u32, cin: u32, h: u32, w: u32,
  cout: u32, ho: u32, wo: u32,
  kh: u32, kw: u32, stride: u32, pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;   // [Cout]; any buffer when HAS_BIAS == 0
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// y[n, co, pixel] for column col = (n, pixel) and rows co = row0 + i, row0 + 32 + i (plus the bias).
fn storeColumn(row0: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  let hoWo = params.ho * params.wo;
  if (col >= params.batch * hoWo) { return; }
  let base = (col / hoWo) * params.cout * hoWo + col % hoWo;
  for (var i = 0u; i < 4u; i++) {
    storeOutput(base, hoWo, row0 + i, lo[i]);
    storeOutput(base, hoWo, row0 + 32u + i, hi[i]);
  }
}

fn storeOutput(base: u32, hoWo: u32, co: u32, v: f32) {
  if (co >= params.cout) { return; }
  var out = v;
  if (HAS_BIAS == 1u) { out += bias[co]; }
  y[base + co * hoWo] = out;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = params.cout;
  let K = params.cin * params.kh * params.kw;
  let hoWo = params.ho * params.wo;
  let N = params.batch * hoWo;
  let tx = li % 8u;
  let ty = li / 8u;
  let H = i32(params.h);
  let W = i32(params.w);
  for (var tile = firstTile(wid, nwg); tile < tileCount(M, N); tile += tileStep(nwg)) {
    let origin = tileOrigin(tile, N);
    let m0 = origin.x;
    let n0 = origin.y;
    clearAcc();

    // The output pixel whose im2col column this invocation stages.
    let col = n0 + li;
    let colOk = col < N;
    let pix = col % hoWo;
    let ih0 = i32((pix / params.wo) * params.stride) - i32(params.pad);
    let iw0 = i32((pix % params.wo) * params.stride) - i32(params.pad);
    let xImg = (col / hoWo) * params.cin * params.h * params.w;

    var ci = 0u;  // k = (ci, r, s), advanced one k at a time
    var r = 0u;
    var s = 0u;
    for (var k0 = 0u; k0 < K; k0 += TK) {
      for (var i = 0u; i < TK; i++) {
        let e = li + i * WG;
        let kk = e % TK;
        let m = e / TK;
        var v = 0.0;
        if (m0 + m < M && k0 + kk < K) { v = weight[(m0 + m) * K + k0 + kk]; }
        setA(kk, m, v);
      }
      for (var kk = 0u; kk < TK; kk++) {
        let ih = ih0 + i32(r);
        let iw = iw0 + i32(s);
        var v = 0.0;
        if (colOk && k0 + kk < K && ih >= 0 && ih < H && iw >= 0 && iw < W) {
          v = x[xImg + (ci * params.h + u32(ih)) * params.w + u32(iw)];
        }
        setB(kk, li, v);
        s++;
        if (s == params.kw) { s = 0u; r++; if (r == params.kh) { r = 0u; ci++; } }
      }
      workgroupBarrier();
      multiplyTiles(tx, ty);
      workgroupBarrier();
    }

    storeBlock(m0, n0, tx, ty);
  }
}
