// Convolution backward to the weights as an implicit GEMM (tile machinery: conv2d_tile.wgsl).
//   dw[co, ci, r, s] = sum_{n, oh, ow} dy[n, co, oh, ow] * x[n, ci, oh*stride - pad + r, ow*stride - pad + s]
// GEMM view: M = Cout, N = Cin*KH*KW (columns in w's layout), K = batch*Ho*Wo (output pixels),
//   A[co, p] = dy[n, co, oh, ow],   B[p, (ci, r, s)] = x at the tap (0 outside the image).
// K is long (a whole batch of images) while M*N is small, so K is split across workgroups
// (workgroup_id.z = split, `chunk` values of K each): every split writes its partial dw to
// out[split, Cout, Cin*KH*KW] and conv2d_reduce.wgsl sums the partials (no float atomics in WGSL). With
// a single split `out` is dw itself.
// Staging (see stagerOf in conv2d_tile.wgsl): an invocation fills 4 rows of A (channels of dy)
// for a run of RUN_A pixels p and 4 columns of B (taps of w) for a run of RUN_B, walking p with an
// (n, oh, ow) counter.

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

// out[split, co, col] for rows co = row0 + i, row0 + HALF_M + i.
var<private> splitBase: u32;  // split * Cout * Cin*KH*KW
fn storeColumn(row0: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  let n = params.cin * params.kh * params.kw;
  if (col >= n) { return; }
  for (var i = 0u; i < 4u; i++) {
    if (row0 + i < params.cout) { out[splitBase + (row0 + i) * n + col] = lo[i]; }
    if (row0 + HALF_M + i < params.cout) { out[splitBase + (row0 + HALF_M + i) * n + col] = hi[i]; }
  }
}

// Four values of dy (gatherA) or of the input (gatherB: inputAt of x, conv2d_input_plain.wgsl or
// conv2d_input_bn_relu.wgsl composed before this file, with the columns' channels k read once per
// tile) at `index`, 0 where `ok` is false.
fn gatherA(index: vec4<u32>, ok: vec4<bool>) -> vec4<f32> {
  let i = select(vec4<u32>(0u), index, ok);
  return select(vec4<f32>(0.0), vec4<f32>(dy[i.x], dy[i.y], dy[i.z], dy[i.w]), ok);
}
fn gatherB(index: vec4<u32>, ok: vec4<bool>, k: InputChannels) -> vec4<f32> {
  let i = select(vec4<u32>(0u), index, ok);
  return select(vec4<f32>(0.0), inputAt(i, k), ok);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let khkw = params.kh * params.kw;
  let M = params.cout;
  let N = params.cin * khkw;
  let hoWo = params.ho * params.wo;
  let K = params.batch * hoWo;
  let blk = blockOf(li);
  let kBegin = wid.z * params.chunk;
  let kEnd = min(K, kBegin + params.chunk);
  let W = i32(params.w);
  let xImgSize = params.cin * params.h * params.w;
  let dyImgSize = M * hoWo;
  splitBase = wid.z * M * N;
  let sg = stagerOf(li);
  for (var tile = firstTile(wid, nwg); tile < tileCount(M, N); tile += tileStep(nwg)) {
    let origin = tileOrigin(tile, N);
    var acc = Acc();  // explicit zero: a bare `var acc: Acc;` in the loop was not re-zeroed per tile (Dawn + SwiftShader)

    // A: the 4 output channels (rows of dy) this invocation stages.
    let co = groupOf(origin.x, sg.qa);
    let rowOk = co < vec4<u32>(M);
    let dyCh = co * hoWo;
    // B: the 4 taps (ci, r, s) of w it stages, as x's channel offset and the tap's pixel offset.
    let cols = columnsOf(origin.y, sg.qb);
    let colOk = cols < vec4<u32>(N);
    let xC = min(cols / khkw, vec4<u32>(params.cin - 1u));  // x's channel of each tap (columns past N: any in range, masked)
    let xK = inputChannels(xC);
    let xCh = vec4<i32>(xC * (params.h * params.w));
    let dr = select(vec4<i32>(OUTSIDE), vec4<i32>((cols % khkw) / params.kw) - i32(params.pad), colOk);  // OUTSIDE: masked below
    let ds = vec4<i32>(cols % params.kw) - i32(params.pad);
    let xTap = xCh + dr * W + ds;  // index in x of this tap for output pixel (0, 0) of image 0

    for (var k0 = kBegin; k0 < kEnd; k0 += TK) {
      if (li < STAGERS_A) {
        var k = k0 + sg.kRunA;  // p = (img, oh, ow), advanced one p at a time
        var img = k / hoWo;
        var pixel = k % hoWo;
        for (var j = 0u; j < RUN_A; j++) {
          stageA(sg.kRunA + j, sg.qa, gatherA(dyCh + (img * dyImgSize + pixel), rowOk & vec4<bool>(k < kEnd)));
          k++;
          pixel++;
          if (pixel == hoWo) { pixel = 0u; img++; }
        }
      }
      var k = k0 + sg.kRunB;  // the same walk for B's run, with the pixel as (oh, ow)
      var img = k / hoWo;
      var oh = (k % hoWo) / params.wo;
      var ow = k % params.wo;
      for (var j = 0u; j < RUN_B; j++) {
        let ih = dr + i32(oh * params.stride);
        let iw = ds + i32(ow * params.stride);
        let inside = vec4<bool>(k < kEnd) & (vec4<u32>(ih) < vec4<u32>(params.h)) & (vec4<u32>(iw) < vec4<u32>(params.w));
        stageB(sg.kRunB + j, sg.qb, gatherB(vec4<u32>(xTap + i32(img * xImgSize + (oh * params.w + ow) * params.stride)), inside, xK));
        k++;
        ow++;
        if (ow == params.wo) { ow = 0u; oh++; if (oh == params.ho) { oh = 0u; img++; } }
      }
      multiplyStaged(&acc, blk);
    }

    storeBlock(&acc, origin.x, origin.y, blk.x, blk.y);
  }
}
