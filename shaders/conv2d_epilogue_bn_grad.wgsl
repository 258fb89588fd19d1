// Epilogue of the input gradient of a convolution whose input was ReLU(BN(x)) (the bn-fused arm):
// the stored values are dL/dh for h = ReLU(BN(x)); the BN backward needs, per channel (the rows),
// sum(dz) and sum(dz * xhat) with dz = dL/dh masked where the ReLU was off and
// xhat = (x - mean) * rstd, the expressions of batchnorm_backward.wgsl bit for bit. They are summed
// as the values are stored, so dL/dh is never read back for them:
//   each invocation sums its 8 rows' values; at the end of the tile they go to the scratch (tileB
//   seen as 512 vec4s, free after the K loop), and invocation li < TM adds up row li's TN/8
//   entries into the partial
//   part[row * slots + slot] = (sum dz, sum dz * xhat); slot numbers the tile's column block
//   within its stride phase, after the column blocks of the phases before it, so every slot is
//   written once. batchnorm_backward.wgsl's `reduce_merge` adds a channel's partials.

@group(0) @binding(8) var<storage, read> bn_mean: array<f32>;
@group(0) @binding(9) var<storage, read> bn_rstd: array<f32>;
@group(0) @binding(10) var<storage, read> bn_gamma: array<f32>;
@group(0) @binding(11) var<storage, read> bn_beta: array<f32>;
@group(0) @binding(12) var<storage, read_write> part: array<vec2<f32>>;  // [rows * slots]
@group(0) @binding(13) var<storage, read> bn_x: array<f32>;

// This invocation's rows' constants (lo: rows row0 + i, hi: row0 + HALF_M + i) and sums.
var<private> gMeanLo: vec4<f32>;
var<private> gMeanHi: vec4<f32>;
var<private> gRstdLo: vec4<f32>;
var<private> gRstdHi: vec4<f32>;
var<private> gGammaLo: vec4<f32>;
var<private> gGammaHi: vec4<f32>;
var<private> gBetaLo: vec4<f32>;
var<private> gBetaHi: vec4<f32>;
var<private> gChLo: vec4<u32>;  // the rows' channels, clamped to a real one (masked by gOk)
var<private> gChHi: vec4<u32>;
var<private> gOkLo: vec4<bool>;
var<private> gOkHi: vec4<bool>;
var<private> gDyLo: vec4<f32>;
var<private> gDyHi: vec4<f32>;
var<private> gDyXLo: vec4<f32>;
var<private> gDyXHi: vec4<f32>;

fn channelsOf(row0: u32, rows: u32) -> vec4<u32> {
  return min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(rows - 1u));
}

fn tileBegin(row0: u32, rows: u32) {
  let cl = channelsOf(row0, rows);
  let ch = channelsOf(row0 + HALF_M, rows);
  gChLo = cl;
  gChHi = ch;
  gOkLo = vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(rows);
  gOkHi = vec4<u32>(row0 + HALF_M) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(rows);
  gMeanLo = vec4(bn_mean[cl.x], bn_mean[cl.y], bn_mean[cl.z], bn_mean[cl.w]);
  gMeanHi = vec4(bn_mean[ch.x], bn_mean[ch.y], bn_mean[ch.z], bn_mean[ch.w]);
  gRstdLo = vec4(bn_rstd[cl.x], bn_rstd[cl.y], bn_rstd[cl.z], bn_rstd[cl.w]);
  gRstdHi = vec4(bn_rstd[ch.x], bn_rstd[ch.y], bn_rstd[ch.z], bn_rstd[ch.w]);
  gGammaLo = vec4(bn_gamma[cl.x], bn_gamma[cl.y], bn_gamma[cl.z], bn_gamma[cl.w]);
  gGammaHi = vec4(bn_gamma[ch.x], bn_gamma[ch.y], bn_gamma[ch.z], bn_gamma[ch.w]);
  gBetaLo = vec4(bn_beta[cl.x], bn_beta[cl.y], bn_beta[cl.z], bn_beta[cl.w]);
  gBetaHi = vec4(bn_beta[ch.x], bn_beta[ch.y], bn_beta[ch.z], bn_beta[ch.w]);
  gDyLo = vec4<f32>(0.0);
  gDyHi = vec4<f32>(0.0);
  gDyXLo = vec4<f32>(0.0);
  gDyXHi = vec4<f32>(0.0);
}

// x at channels c of this column.
fn xAt(base: u32, hw: u32, c: vec4<u32>) -> vec4<f32> {
  return vec4(bn_x[base + c.x * hw], bn_x[base + c.y * hw], bn_x[base + c.z * hw], bn_x[base + c.w * hw]);
}

fn recordColumn(row0: u32, base: u32, hw: u32, lo: vec4<f32>, hi: vec4<f32>) {
  let xl = xAt(base, hw, gChLo);
  let xh = xAt(base, hw, gChHi);
  let xhatLo = (xl - gMeanLo) * gRstdLo;
  let xhatHi = (xh - gMeanHi) * gRstdHi;
  let dl = select(vec4<f32>(0.0), lo, gOkLo & (xhatLo * gGammaLo + gBetaLo > vec4<f32>(0.0)));
  let dh = select(vec4<f32>(0.0), hi, gOkHi & (xhatHi * gGammaHi + gBetaHi > vec4<f32>(0.0)));
  gDyLo += dl;
  gDyHi += dh;
  gDyXLo += dl * xhatLo;
  gDyXHi += dh * xhatHi;
}

fn tileEnd(li: u32, blk: vec2<u32>, m0: u32, slot: u32, rows: u32) {
  const TX: u32 = TN / 8u;
  let r = 4u * blk.y;
  scratchStore((r + 0u) * TX + blk.x, vec4(gDyLo.x, gDyXLo.x, 0.0, 0.0));
  scratchStore((r + 1u) * TX + blk.x, vec4(gDyLo.y, gDyXLo.y, 0.0, 0.0));
  scratchStore((r + 2u) * TX + blk.x, vec4(gDyLo.z, gDyXLo.z, 0.0, 0.0));
  scratchStore((r + 3u) * TX + blk.x, vec4(gDyLo.w, gDyXLo.w, 0.0, 0.0));
  scratchStore((HALF_M + r + 0u) * TX + blk.x, vec4(gDyHi.x, gDyXHi.x, 0.0, 0.0));
  scratchStore((HALF_M + r + 1u) * TX + blk.x, vec4(gDyHi.y, gDyXHi.y, 0.0, 0.0));
  scratchStore((HALF_M + r + 2u) * TX + blk.x, vec4(gDyHi.z, gDyXHi.z, 0.0, 0.0));
  scratchStore((HALF_M + r + 3u) * TX + blk.x, vec4(gDyHi.w, gDyXHi.w, 0.0, 0.0));
  workgroupBarrier();
  if (li < TM && m0 + li < rows) {
    var s = vec2<f32>(0.0);
    for (var t = 0u; t < TX; t++) { s += scratchLoad(li * TX + t).xy; }
    part[(m0 + li) * params.slots + slot] = s;
  }
  workgroupBarrier();
}
