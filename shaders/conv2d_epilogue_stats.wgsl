// Epilogue of a convolution whose output feeds a batch norm: the BN's statistics, accumulated
// from the values as they are stored (the epilogue of cuDNN's fused conv-BN-stats), so the output
// is never read back for them. Rows are the output channels.
//   1. each invocation keeps, for its 8 rows, the count, the sum and the sum of squares of its
//      values shifted by the row's first value (at most 8 values: no cancellation to speak of);
//   2. at the end of the tile it turns them into (count, mean, M2) in the scratch (tileB seen as
//      512 vec4s, free once the K loop's last barrier has passed: scratchStore and scratchLoad of
//      the column layout), one entry per (row, tx): TM * TN/8 = 512 for every tile shape;
//   3. invocation li < TM merges row li's TN/8 entries (Chan's formula) into the partial
//      part[row * slots + slot] = (count, mean, M2, 0) with slot = the tile's column block.
// batchnorm_stats.wgsl's `merge` then combines a channel's partials into mean, rstd and the
// running statistics, exactly as for its own slices. Composed only without a bias (the conv
// before a BN has none; the program refuses one).

@group(0) @binding(12) var<storage, read_write> part: array<vec4<f32>>;  // [rows * slots]

var<private> stCount: f32;
var<private> stShiftLo: vec4<f32>;
var<private> stShiftHi: vec4<f32>;
var<private> stSumLo: vec4<f32>;
var<private> stSumHi: vec4<f32>;
var<private> stSqLo: vec4<f32>;
var<private> stSqHi: vec4<f32>;

fn tileBegin(row0: u32, rows: u32) {
  stCount = 0.0;
  stSumLo = vec4<f32>(0.0);
  stSumHi = vec4<f32>(0.0);
  stSqLo = vec4<f32>(0.0);
  stSqHi = vec4<f32>(0.0);
}

fn recordColumn(row0: u32, base: u32, hw: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (stCount == 0.0) {
    stShiftLo = lo;
    stShiftHi = hi;
  }
  let dl = lo - stShiftLo;
  let dh = hi - stShiftHi;
  stCount += 1.0;
  stSumLo += dl;
  stSumHi += dh;
  stSqLo += dl * dl;
  stSqHi += dh * dh;
}

// (count, mean, M2) of lane i of one row block.
fn rowMoments(sum: vec4<f32>, sq: vec4<f32>, shift: vec4<f32>) -> array<vec4<f32>, 4> {
  let n = stCount;
  let inv = select(0.0, 1.0 / n, n > 0.0);
  let mu = shift + sum * inv;
  let m2 = max(sq - sum * sum * inv, vec4<f32>(0.0));
  return array<vec4<f32>, 4>(vec4(n, mu.x, m2.x, 0.0), vec4(n, mu.y, m2.y, 0.0), vec4(n, mu.z, m2.z, 0.0), vec4(n, mu.w, m2.w, 0.0));
}

fn tileEnd(li: u32, blk: vec2<u32>, m0: u32, slot: u32, rows: u32) {
  const TX: u32 = TN / 8u;  // invocations that share a row block
  let lo = rowMoments(stSumLo, stSqLo, stShiftLo);
  let hi = rowMoments(stSumHi, stSqHi, stShiftHi);
  let r = 4u * blk.y;
  scratchStore((r + 0u) * TX + blk.x, lo[0]);
  scratchStore((r + 1u) * TX + blk.x, lo[1]);
  scratchStore((r + 2u) * TX + blk.x, lo[2]);
  scratchStore((r + 3u) * TX + blk.x, lo[3]);
  scratchStore((HALF_M + r + 0u) * TX + blk.x, hi[0]);
  scratchStore((HALF_M + r + 1u) * TX + blk.x, hi[1]);
  scratchStore((HALF_M + r + 2u) * TX + blk.x, hi[2]);
  scratchStore((HALF_M + r + 3u) * TX + blk.x, hi[3]);
  workgroupBarrier();
  if (li < TM && m0 + li < rows) {
    var n = 0.0;
    var mu = 0.0;
    var m2 = 0.0;
    for (var t = 0u; t < TX; t++) {
      let s = scratchLoad(li * TX + t);
      if (s.x > 0.0) {
        let total = n + s.x;
        let d = s.y - mu;
        let wb = s.x / total;
        mu += d * wb;
        m2 += s.z + d * d * n * wb;
        n = total;
      }
    }
    part[(m0 + li) * params.slots + slot] = vec4<f32>(n, mu, m2, 0.0);
  }
  workgroupBarrier();  // before the next tile stages into tileB
}
