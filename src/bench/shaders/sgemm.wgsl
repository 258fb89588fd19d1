// Reference kernel for compute: C [m, n] = A [m, k] @ B [k, n], m and n multiples of 64, k a
// multiple of 16 (the bench pads a conv's equivalent GEMM up to these). No bounds checks: it
// measures the adapter's practical GFLOP/s for a well-tiled kernel, the yardstick of conv2d.
// Each workgroup of 64 invocations computes a 64x64 tile of C from 64x16 slices of A and 16x64
// slices of B staged in workgroup memory (two barriers per 16 steps of k); each invocation keeps
// an 8x8 block of C in registers (16 vec4 accumulators) and does 64 FMAs per 4 shared loads.
// Small workgroups and few barriers suit CPU adapters (SwiftShader), and the register blocking
// suits real GPUs.

struct Params {
  m: u32,
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

const T: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> tileA: array<vec4<f32>, 256>;  // [TK][T/4]: A[m0 + 4q .. +3, k]
var<workgroup> tileB: array<vec4<f32>, 256>;  // [TK][T/4]: B[k, n0 + 4q .. +3]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let n = params.n;
  let kk = params.k;
  let row0 = wid.y * T;
  let col0 = wid.x * T;
  let tx = li % 8u;  // columns col0 + 4*tx .. and col0 + 32 + 4*tx ..
  let ty = li / 8u;  // rows row0 + 4*ty .. and row0 + 32 + 4*ty ..
  var acc: array<vec4<f32>, 16>;  // [row 0..7][column half 0..1]
  for (var k0 = 0u; k0 < kk; k0 += TK) {
    // Stage: 256 vec4 of each tile, 4 per invocation.
    for (var e = li; e < 256u; e += 64u) {
      let k = e / 16u;
      let q = e % 16u;
      let r = row0 + 4u * q;
      tileA[e] = vec4<f32>(a[r * kk + k0 + k], a[(r + 1u) * kk + k0 + k], a[(r + 2u) * kk + k0 + k], a[(r + 3u) * kk + k0 + k]);
      let bi = (k0 + k) * n + col0 + 4u * q;
      tileB[e] = vec4<f32>(b[bi], b[bi + 1u], b[bi + 2u], b[bi + 3u]);
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let a0 = tileA[k * 16u + ty];
      let a1 = tileA[k * 16u + 8u + ty];
      let b0 = tileB[k * 16u + tx];
      let b1 = tileB[k * 16u + 8u + tx];
      // Unrolled by hand: constant indices keep the accumulators in registers.
      acc[0] += a0.x * b0; acc[1] += a0.x * b1;
      acc[2] += a0.y * b0; acc[3] += a0.y * b1;
      acc[4] += a0.z * b0; acc[5] += a0.z * b1;
      acc[6] += a0.w * b0; acc[7] += a0.w * b1;
      acc[8] += a1.x * b0; acc[9] += a1.x * b1;
      acc[10] += a1.y * b0; acc[11] += a1.y * b1;
      acc[12] += a1.z * b0; acc[13] += a1.z * b1;
      acc[14] += a1.w * b0; acc[15] += a1.w * b1;
    }
    workgroupBarrier();
  }
  let n4 = n / 4u;
  for (var i = 0u; i < 4u; i++) {
    let r0 = row0 + 4u * ty + i;
    let r1 = row0 + 32u + 4u * ty + i;
    c[r0 * n4 + col0 / 4u + tx] = acc[2u * i];
    c[r0 * n4 + col0 / 4u + 8u + tx] = acc[2u * i + 1u];
    c[r1 * n4 + col0 / 4u + tx] = acc[8u + 2u * i];
    c[r1 * n4 + col0 / 4u + 8u + tx] = acc[8u + 2u * i + 1u];
  }
}
