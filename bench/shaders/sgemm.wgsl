// Reference kernel for compute: C [m, n] = A [m, k] @ B [k, n], m and n multiples of 64, k a
// multiple of 16 (the bench pads a conv's equivalent GEMM up to these). Each workgroup computes a
// 64x64 tile from 64x16 and 16x64 slices staged in workgroup memory (one pair of barriers per 16
// steps of k); each of its 256 invocations accumulates a 4x4 block. No bounds checks: it measures
// the adapter's practical GFLOP/s for a well-tiled GPU kernel. (On a CPU adapter such as
// SwiftShader, where barriers and 256-invocation workgroups are expensive, it is a weak yardstick.)

struct Params {
  m: u32,
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const T: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> tileA: array<f32, 1024>;  // [TK][T]
var<workgroup> tileB: array<f32, 1024>;  // [TK][T]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let n = params.n;
  let kk = params.k;
  let row0 = wid.y * T;
  let col0 = wid.x * T;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < kk; k0 += TK) {
    for (var e = li; e < T * TK; e += 256u) {
      let m = e / TK;
      let k = e % TK;
      tileA[k * T + m] = a[(row0 + m) * kk + k0 + k];
      let kb = e / T;
      let nb = e % T;
      tileB[kb * T + nb] = b[(k0 + kb) * n + col0 + nb];
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let bv = vec4<f32>(tileB[k * T + lid.x * 4u], tileB[k * T + lid.x * 4u + 1u], tileB[k * T + lid.x * 4u + 2u], tileB[k * T + lid.x * 4u + 3u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] += tileA[k * T + lid.y * 4u + i] * bv;
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + lid.y * 4u + i;
    let base = r * n + col0 + lid.x * 4u;
    c[base] = acc[i].x;
    c[base + 1u] = acc[i].y;
    c[base + 2u] = acc[i].z;
    c[base + 3u] = acc[i].w;
  }
}
