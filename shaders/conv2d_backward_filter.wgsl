// Convolution backward to the weights as an implicit GEMM (tile machinery: conv2d_tile.wgsl).
//   dw[co, ci, r, s] = sum_{n, oh, ow} dy[n, co, oh, ow] * x[n, ci, oh*stride - pad + r, ow*stride - pad + s]
// GEMM view: M = Cout, N = Cin*KH*KW (columns in w's layout), K = batch*Ho*Wo (output pixels),
//   A[co, p] = dy[n, co, oh, ow],   B[p, (ci, r, s)] = x at the tap (0 outside the image).
// K is long (a whole batch of images) while M*N is small, so K is split across workgroups
// (workgroup_id.z = split, `chunk` values of K each): every split writes its partial dw to
// out[split, Cout, Cin*KH*KW] and conv2d_reduce.wgsl sums the partials (no float atomics in WGSL). With
// a single split `out` is dw itself.
// Staging: invocation li owns row li of A (a channel of dy) and column li of B (one tap of w);
// both walk the split's pixels with one (n, oh, ow) counter, so the loop has no divisions.

struct Params {
  batch: u32, cin: u32, h: u32, w: u32,
  cout: u32, ho: u32, wo: u32,
  kh: u32, kw: u32, stride: u32, pad: u32,
  chunk: u32,   // values of K per split (a multiple of TK)
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// out[split, co, col] for rows co = row0 + i, row0 + 32 + i.
var<private> splitBase: u32;  // split * Cout * Cin*KH*KW
fn storeColumn(row0: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  let n = params.cin * params.kh * params.kw;
  if (col >= n) { return; }
  for (var i = 0u; i < 4u; i++) {
    if (row0 + i < params.cout) { out[splitBase + (row0 + i) * n + col] = lo[i]; }
    if (row0 + 32u + i < params.cout) { out[splitBase + (row0 + 32u + i) * n + col] = hi[i]; }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let khkw = params.kh * params.kw;
  let M = params.cout;
  let N = params.cin * khkw;
  let hoWo = params.ho * params.wo;
  let K = params.batch * hoWo;
  let tx = li % 8u;
  let ty = li / 8u;
  let kBegin = wid.z * params.chunk;
  let kEnd = min(K, kBegin + params.chunk);
  let H = i32(params.h);
  let W = i32(params.w);
  let xImgSize = params.cin * params.h * params.w;
  let dyImgSize = M * hoWo;
  splitBase = wid.z * M * N;
  for (var tile = firstTile(wid, nwg); tile < tileCount(M, N); tile += tileStep(nwg)) {
    let origin = tileOrigin(tile, N);
    let m0 = origin.x;
    let n0 = origin.y;
    clearAcc();

    // B column li: the tap (ci, r, s).
    let col = n0 + li;
    let colOk = col < N;
    let xCh = (col / khkw) * params.h * params.w;
    let dr = i32((col % khkw) / params.kw) - i32(params.pad);
    let ds = i32(col % params.kw) - i32(params.pad);
    // A row li: an output channel.
    let rowOk = m0 + li < M;
    let dyCh = (m0 + li) * hoWo;

    var img = kBegin / hoWo;  // p = (img, oh, ow), advanced one p at a time
    var oh = (kBegin % hoWo) / params.wo;
    var ow = kBegin % params.wo;
    for (var k0 = kBegin; k0 < kEnd; k0 += TK) {
      for (var kk = 0u; kk < TK; kk++) {
        let inK = k0 + kk < kEnd;
        var a = 0.0;
        if (rowOk && inK) { a = dy[img * dyImgSize + dyCh + oh * params.wo + ow]; }
        setA(kk, li, a);
        let ih = i32(oh * params.stride) + dr;
        let iw = i32(ow * params.stride) + ds;
        var b = 0.0;
        if (colOk && inK && ih >= 0 && ih < H && iw >= 0 && iw < W) {
          b = x[img * xImgSize + xCh + u32(ih) * params.w + u32(iw)];
        }
        setB(kk, li, b);
        ow++;
        if (ow == params.wo) { ow = 0u; oh++; if (oh == params.ho) { oh = 0u; img++; } }
      }
      workgroupBarrier();
      multiplyTiles(tx, ty);
      workgroupBarrier();
    }

    storeBlock(m0, n0, tx, ty);
  }
}
