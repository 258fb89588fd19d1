// How the batch-norm kernels step through x viewed as [N, C, HW] (src/gpu/programs/batchnorm.ts
// composes this file before batchnorm.wgsl, batchnorm_stats.wgsl and batchnorm_backward.wgsl).

// The reductions' slice walk: slice p of channel c visits the channel's values p, p + slices,
// p + 2 * slices, ... (so neighbouring invocations read neighbouring addresses). Moving from value
// m to m + slices moves `slices / hw` images and `slices % hw` positions in the row, plus one image
// when the position wraps past the row's end. Units are values, or vec4s when hw counts vec4s.
struct Walk {
  addr: u32,
  pos: u32,
  jump: u32,   // address step without a wrap
  r: u32,      // position step
  wrap: u32,   // extra address step on a wrap: from the end of row (n, c) to row (n + 1, c)
  hw: u32,
}

fn walk_start(c: u32, p: u32, channels: u32, hw: u32, slices: u32) -> Walk {
  let chw = channels * hw;
  let r = slices % hw;
  let pos = p % hw;
  return Walk((p / hw) * chw + c * hw + pos, pos, (slices / hw) * chw + r, r, chw - hw, hw);
}

fn walk_next(w: ptr<function, Walk>) {
  (*w).pos += (*w).r;
  (*w).addr += (*w).jump;
  if ((*w).pos >= (*w).hw) {
    (*w).pos -= (*w).hw;
    (*w).addr += (*w).wrap;
  }
}

// The elementwise kernels' channel cursor, for a vec4 that may straddle channels (HW % 4 != 0):
// the first value's channel takes one division, then the position steps value by value (several
// wraps per vec4 when HW < 4).
struct Cursor {
  pos: u32,
  c: u32,
}

fn cursor_at(value: u32, hw: u32, channels: u32) -> Cursor {
  return Cursor(value % hw, (value / hw) % channels);
}

// Step to the next value; true when that moved to another channel.
fn cursor_next(cur: ptr<function, Cursor>, hw: u32, channels: u32) -> bool {
  (*cur).pos += 1u;
  if ((*cur).pos < hw) { return false; }
  (*cur).pos = 0u;
  (*cur).c = select((*cur).c + 1u, 0u, (*cur).c + 1u == channels);
  return true;
}

// Welford's running (count, mean, M2) of one slice's values (batchnorm_stats.wgsl's `partials`,
// batchnorm_add_stats.wgsl): the values are shifted by the channel's first one before they come here.
struct Welford {
  n: f32,
  mu: f32,
  m2: f32,
}

fn welford_add(w: ptr<function, Welford>, v: f32) {
  (*w).n += 1.0;
  let d = v - (*w).mu;
  (*w).mu += d / (*w).n;
  (*w).m2 += d * (v - (*w).mu);
}
