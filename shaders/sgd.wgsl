// SGD with heavy-ball momentum and L2 weight decay, in place, PyTorch's convention:
//   g' = grad + weight_decay * param;  v = momentum * v + g';  param -= lr * v.
// One dispatch per parameter tensor; lr is a uniform so it can change every step.
// Four values per invocation; the last vec4 may update the binding's padding (ignored).

struct Params {
  n4: u32,            // vec4s = ceil(n / 4)
  lr: f32,
  momentum: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> velocity: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n4) { return; }
  let w = param[i];
  let v = params.momentum * velocity[i] + (grad[i] + params.weight_decay * w);
  velocity[i] = v;
  param[i] = w - params.lr * v;
}
