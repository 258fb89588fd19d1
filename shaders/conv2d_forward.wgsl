// Convolution forward as an implicit GEMM (tile machinery: conv2d_tile.wgsl, composed before it).
//   y[n, co, oh, ow] = bias[co] + sum_{ci, r, s} w[co, ci, r, s] * x[n, ci, oh*stride - pad + r, ow*stride - pad + s]
// GEMM view: M = Cout (rows), N = batch*Ho*Wo (columns: output pixels, image-major, so a row of C
// is contiguous in y within an image), K = Cin*KH*KW with k = (ci, r, s) as in w's layout.
//   A[co, k] = w viewed as [Cout, K] (row-major already);
//   B[k, col] = x at the tap (im2col), gathered while staging, zero outside the image.
// Staging (see stagerOf in conv2d_tile.wgsl): an invocation fills 4 rows of A (weights) for a
// run of RUN_A values of k, and 4 columns of B (output pixels, decoded once per tile) for a run of
// RUN_B values of k, walking k with a (ci, r, s) counter. The bias (biasOf: conv2d_bias.wgsl or
// conv2d_no_bias.wgsl, composed before this file) is added in the epilogue. Also composed before
// it: what the kernel reads as its input (inputOf: conv2d_input_plain.wgsl, or
// conv2d_input_bn_relu.wgsl) and the epilogue hooks (conv2d_epilogue_plain.wgsl, or
// conv2d_epilogue_stats.wgsl: the next BN's statistics).

struct Params {
  batch: u32, cin: u32, h: u32, w: u32,
  cout: u32, ho: u32, wo: u32,
  kh: u32, kw: u32, stride: u32, pad: u32,
  slots: u32,  // column blocks of the GEMM: the epilogue's partials per row (conv2d_epilogue_stats.wgsl)
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
// binding 2: the bias, where conv2d_bias.wgsl declares it
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// y[n, co, pixel] for column col = (n, pixel) and rows co = row0 + i, row0 + HALF_M + i (plus the bias).
fn storeColumn(row0: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  let hoWo = params.ho * params.wo;
  if (col >= params.batch * hoWo) { return; }
  let base = (col / hoWo) * params.cout * hoWo + col % hoWo;
  recordColumn(row0, base, hoWo, lo, hi);
  for (var i = 0u; i < 4u; i++) {
    storeOutput(base, hoWo, row0 + i, lo[i]);
    storeOutput(base, hoWo, row0 + HALF_M + i, hi[i]);
  }
}

fn storeOutput(base: u32, hoWo: u32, co: u32, v: f32) {
  if (co >= params.cout) { return; }
  y[base + co * hoWo] = v + biasOf(co);
}

// Four values of weight (gatherA) or of the input (gatherB, inputAt of x, channel c) at `index`,
// 0 where `ok` is false.
fn gatherA(index: vec4<u32>, ok: vec4<bool>) -> vec4<f32> {
  let i = select(vec4<u32>(0u), index, ok);
  return select(vec4<f32>(0.0), vec4<f32>(weight[i.x], weight[i.y], weight[i.z], weight[i.w]), ok);
}
fn gatherB(index: vec4<u32>, ok: vec4<bool>, c: u32) -> vec4<f32> {
  let i = select(vec4<u32>(0u), index, ok);
  let ci = select(0u, c, any(ok));  // a channel in range where no lane is
  return select(vec4<f32>(0.0), inputOf(i, ci), ok);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = params.cout;
  let khkw = params.kh * params.kw;
  let K = params.cin * khkw;
  let hoWo = params.ho * params.wo;
  let N = params.batch * hoWo;
  let blk = blockOf(li);
  let W = i32(params.w);
  let sg = stagerOf(li);
  for (var tile = firstTile(wid, nwg); tile < tileCount(M, N); tile += tileStep(nwg)) {
    let origin = tileOrigin(tile, N);
    var acc = Acc();  // explicit zero: a bare `var acc: Acc;` in the loop was not re-zeroed per tile (Dawn + SwiftShader)

    // A: the 4 weight rows this invocation stages.
    let rows = groupOf(origin.x, sg.qa);
    let rowOk = rows < vec4<u32>(M);
    let wRow = rows * K;
    // B: the 4 output pixels (im2col columns) it stages, decoded once per tile; xTap0 is the index
    // of tap (ci, r, s) = (0, 0, 0) in x, which may lie outside the image (padding).
    let cols = columnsOf(origin.y, sg.qb);
    let colOk = cols < vec4<u32>(N);
    let pix = cols % hoWo;
    // Columns past N get a row far outside the image, so the bounds test below also masks them.
    let ih0 = select(vec4<i32>(OUTSIDE), vec4<i32>((pix / params.wo) * params.stride) - i32(params.pad), colOk);
    let iw0 = vec4<i32>((pix % params.wo) * params.stride) - i32(params.pad);
    let xTap0 = vec4<i32>((cols / hoWo) * (params.cin * params.h * params.w)) + ih0 * W + iw0;

    for (var k0 = 0u; k0 < K; k0 += TK) {
      if (li < STAGERS_A) {
        for (var j = 0u; j < RUN_A; j++) {
          let k = k0 + sg.kRunA + j;
          stageA(sg.kRunA + j, sg.qa, gatherA(wRow + k, rowOk & vec4<bool>(k < K)));
        }
      }
      var k = k0 + sg.kRunB;  // k = (ci, r, s), advanced one k at a time
      var ci = k / khkw;
      var r = (k % khkw) / params.kw;
      var s = k % params.kw;
      for (var j = 0u; j < RUN_B; j++) {
        let ih = ih0 + i32(r);
        let iw = iw0 + i32(s);
        let inside = vec4<bool>(k < K) & (vec4<u32>(ih) < vec4<u32>(params.h)) & (vec4<u32>(iw) < vec4<u32>(params.w));
        stageB(sg.kRunB + j, sg.qb, gatherB(vec4<u32>(xTap0 + i32((ci * params.h + r) * params.w + s)), inside, ci));
        k++;
        s++;
        if (s == params.kw) { s = 0u; r++; if (r == params.kh) { r = 0u; ci++; } }
      }
      multiplyStaged(&acc, blk);
    }

    tileBegin(origin.x + 4u * blk.y, M);
    storeBlock(&acc, origin.x, origin.y, blk.x, blk.y);
    tileEnd(li, blk, origin.x, origin.y / TN, M);
  }
}
