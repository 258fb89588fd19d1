// Column layout 'blocked' of the conv GEMM tiles (conv2d_tile.wgsl has the rest; conv2d v1, v2):
// an invocation owns two runs of 4 adjacent columns of C, 4tx..4tx+3 and TN/2+4tx..TN/2+4tx+3, and
// B's tile is stored as vec4s of 4 adjacent columns, so the multiply reads B as 2 vec4 loads per k.

var<workgroup> tileB: array<vec4<f32>, TK * TN4>;  // [TK][TN4]

// The 4 columns of B that stager q fills: 4q..4q+3 of the tile.
fn columnsOf(first: u32, q: u32) -> vec4<u32> { return groupOf(first, q); }
fn stageB(kk: u32, q: u32, b: vec4<f32>) { tileB[kk * TN4 + q] = b; }

// acc += tileA^T-slice @ tileB-slice over the staged TK values of k.
fn multiplyTiles(acc: ptr<function, Acc>, tx: u32, ty: u32) {
  for (var kk = 0u; kk < TK; kk++) {
    let a0 = tileA[kk * TM4 + ty];
    let a1 = tileA[kk * TM4 + TM4 / 2u + ty];
    let b0 = tileB[kk * TN4 + tx];
    let b1 = tileB[kk * TN4 + TN4 / 2u + tx];
    outerProduct(acc, a0, a1, b0, b1);
  }
}

// Hand this invocation's 8x8 block of C to the kernel's
//   storeColumn(row0, col, lo, hi): C[row0 + i, col] = lo[i], C[row0 + HALF_M + i, col] = hi[i] (i < 4)
// one column at a time, reading the accumulators with constant indices only (CPU adapters turn a
// dynamically indexed private array into a select over all 64 values).
fn storeBlock(acc: ptr<function, Acc>, m0: u32, n0: u32, tx: u32, ty: u32) {
  let row0 = m0 + 4u * ty;
  let c0 = n0 + 4u * tx;
  let c1 = n0 + TN / 2u + 4u * tx;
  storeColumn(row0, c0, vec4((*acc)[0].x, (*acc)[1].x, (*acc)[2].x, (*acc)[3].x), vec4((*acc)[4].x, (*acc)[5].x, (*acc)[6].x, (*acc)[7].x));
  storeColumn(row0, c0 + 1u, vec4((*acc)[0].y, (*acc)[1].y, (*acc)[2].y, (*acc)[3].y), vec4((*acc)[4].y, (*acc)[5].y, (*acc)[6].y, (*acc)[7].y));
  storeColumn(row0, c0 + 2u, vec4((*acc)[0].z, (*acc)[1].z, (*acc)[2].z, (*acc)[3].z), vec4((*acc)[4].z, (*acc)[5].z, (*acc)[6].z, (*acc)[7].z));
  storeColumn(row0, c0 + 3u, vec4((*acc)[0].w, (*acc)[1].w, (*acc)[2].w, (*acc)[3].w), vec4((*acc)[4].w, (*acc)[5].w, (*acc)[6].w, (*acc)[7].w));
  storeColumn(row0, c1, vec4((*acc)[8].x, (*acc)[9].x, (*acc)[10].x, (*acc)[11].x), vec4((*acc)[12].x, (*acc)[13].x, (*acc)[14].x, (*acc)[15].x));
  storeColumn(row0, c1 + 1u, vec4((*acc)[8].y, (*acc)[9].y, (*acc)[10].y, (*acc)[11].y), vec4((*acc)[12].y, (*acc)[13].y, (*acc)[14].y, (*acc)[15].y));
  storeColumn(row0, c1 + 2u, vec4((*acc)[8].z, (*acc)[9].z, (*acc)[10].z, (*acc)[11].z), vec4((*acc)[12].z, (*acc)[13].z, (*acc)[14].z, (*acc)[15].z));
  storeColumn(row0, c1 + 3u, vec4((*acc)[8].w, (*acc)[9].w, (*acc)[10].w, (*acc)[11].w), vec4((*acc)[12].w, (*acc)[13].w, (*acc)[14].w, (*acc)[15].w));
}

// The epilogues' scratch (conv2d_epilogue_stats.wgsl, conv2d_epilogue_bn_grad.wgsl): tileB as
// TK * TN / 4 = 512 vec4s, free once the K loop's last barrier has passed.
fn scratchStore(i: u32, v: vec4<f32>) { tileB[i] = v; }
fn scratchLoad(i: u32) -> vec4<f32> { return tileB[i]; }
