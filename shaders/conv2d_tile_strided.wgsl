// Column layout 'strided' of the conv GEMM tiles (conv2d_tile.wgsl has the rest; conv2d v3): an
// invocation owns the 8 columns tx + j * TN/8 (j < 8) of C, so adjacent invocations own adjacent
// columns, and B's tile is stored as plain floats. A CPU adapter runs adjacent invocations in the
// lanes of one SIMD register: there each of the multiply's 8 reads of B per k is one vector load of
// adjacent floats, where the blocked layout's vec4 reads are gathers of 4 strided values a
// component; the stores of C and the staging stores of B become adjacent too.

var<workgroup> tileB: array<f32, TK * TN>;  // [TK][TN]

// The 4 columns of B that stager q fills: q + j * TN4 (j < 4).
fn columnsOf(first: u32, q: u32) -> vec4<u32> { return vec4<u32>(first + q) + vec4<u32>(0u, 1u, 2u, 3u) * TN4; }
fn stageB(kk: u32, q: u32, b: vec4<f32>) {
  let i = kk * TN + q;
  tileB[i] = b.x;
  tileB[i + TN4] = b.y;
  tileB[i + 2u * TN4] = b.z;
  tileB[i + 3u * TN4] = b.w;
}

const COL_STEP: u32 = TN / 8u; // between an invocation's columns

// acc += tileA^T-slice @ tileB-slice over the staged TK values of k. acc[i] for i < 8 holds
// columns tx + j * COL_STEP, j < 4; i >= 8 those with j = 4..7.
fn multiplyTiles(acc: ptr<function, Acc>, tx: u32, ty: u32) {
  for (var kk = 0u; kk < TK; kk++) {
    let a0 = tileA[kk * TM4 + ty];
    let a1 = tileA[kk * TM4 + TM4 / 2u + ty];
    let bi = kk * TN + tx;
    let b0 = vec4(tileB[bi], tileB[bi + COL_STEP], tileB[bi + 2u * COL_STEP], tileB[bi + 3u * COL_STEP]);
    let b1 = vec4(tileB[bi + 4u * COL_STEP], tileB[bi + 5u * COL_STEP], tileB[bi + 6u * COL_STEP], tileB[bi + 7u * COL_STEP]);
    outerProduct(acc, a0, a1, b0, b1);
  }
}

// Hand this invocation's 8x8 block of C to the kernel's
//   storeColumn(row0, col, lo, hi): C[row0 + i, col] = lo[i], C[row0 + HALF_M + i, col] = hi[i] (i < 4)
// one column at a time, reading the accumulators with constant indices only.
fn storeBlock(acc: ptr<function, Acc>, m0: u32, n0: u32, tx: u32, ty: u32) {
  let row0 = m0 + 4u * ty;
  let c0 = n0 + tx;
  let c1 = n0 + tx + 4u * COL_STEP;
  storeColumn(row0, c0, vec4((*acc)[0].x, (*acc)[1].x, (*acc)[2].x, (*acc)[3].x), vec4((*acc)[4].x, (*acc)[5].x, (*acc)[6].x, (*acc)[7].x));
  storeColumn(row0, c0 + COL_STEP, vec4((*acc)[0].y, (*acc)[1].y, (*acc)[2].y, (*acc)[3].y), vec4((*acc)[4].y, (*acc)[5].y, (*acc)[6].y, (*acc)[7].y));
  storeColumn(row0, c0 + 2u * COL_STEP, vec4((*acc)[0].z, (*acc)[1].z, (*acc)[2].z, (*acc)[3].z), vec4((*acc)[4].z, (*acc)[5].z, (*acc)[6].z, (*acc)[7].z));
  storeColumn(row0, c0 + 3u * COL_STEP, vec4((*acc)[0].w, (*acc)[1].w, (*acc)[2].w, (*acc)[3].w), vec4((*acc)[4].w, (*acc)[5].w, (*acc)[6].w, (*acc)[7].w));
  storeColumn(row0, c1, vec4((*acc)[8].x, (*acc)[9].x, (*acc)[10].x, (*acc)[11].x), vec4((*acc)[12].x, (*acc)[13].x, (*acc)[14].x, (*acc)[15].x));
  storeColumn(row0, c1 + COL_STEP, vec4((*acc)[8].y, (*acc)[9].y, (*acc)[10].y, (*acc)[11].y), vec4((*acc)[12].y, (*acc)[13].y, (*acc)[14].y, (*acc)[15].y));
  storeColumn(row0, c1 + 2u * COL_STEP, vec4((*acc)[8].z, (*acc)[9].z, (*acc)[10].z, (*acc)[11].z), vec4((*acc)[12].z, (*acc)[13].z, (*acc)[14].z, (*acc)[15].z));
  storeColumn(row0, c1 + 3u * COL_STEP, vec4((*acc)[8].w, (*acc)[9].w, (*acc)[10].w, (*acc)[11].w), vec4((*acc)[12].w, (*acc)[13].w, (*acc)[14].w, (*acc)[15].w));
}

// The epilogues' scratch (conv2d_epilogue_stats.wgsl, conv2d_epilogue_bn_grad.wgsl): tileB as
// TK * TN / 4 = 512 vec4s, free once the K loop's last barrier has passed.
fn scratchStore(i: u32, v: vec4<f32>) {
  tileB[4u * i] = v.x;
  tileB[4u * i + 1u] = v.y;
  tileB[4u * i + 2u] = v.z;
  tileB[4u * i + 3u] = v.w;
}
fn scratchLoad(i: u32) -> vec4<f32> { return vec4(tileB[4u * i], tileB[4u * i + 1u], tileB[4u * i + 2u], tileB[4u * i + 3u]); }
