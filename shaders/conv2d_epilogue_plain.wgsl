// A convolution kernel's epilogue hooks, composed before conv2d_forward.wgsl and
// conv2d_backward_input.wgsl: nothing beyond storing the tile. The bn-fused arm composes
// conv2d_epilogue_stats.wgsl (the next BN's statistics) or conv2d_epilogue_bn_grad.wgsl (the BN
// backward's sums) instead. The kernel calls
//   tileBegin(row0, rows)            before storing a tile (row0: this invocation's first row)
//   recordColumn(row0, base, hw, lo, hi)  for each stored column in range: rows row0 + i and
//                                    row0 + HALF_M + i (i < 4) hold lo[i], hi[i], element index
//                                    base + row * hw
//   tileEnd(li, blk, m0, slot, rows) after it (uniform control flow: it may use barriers)
fn tileBegin(row0: u32, rows: u32) {}
fn recordColumn(row0: u32, base: u32, hw: u32, lo: vec4<f32>, hi: vec4<f32>) {}
fn tileEnd(li: u32, blk: vec2<u32>, m0: u32, slot: u32, rows: u32) {}
