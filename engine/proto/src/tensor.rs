//! Local tensor kernels shared by the plaintext reference and the secure executor.
//!
//! Values are `u64` in two's complement modulo 2^64 (reduce to a width with
//! `pq_kernels::ring::reduce`), so the same code serves plaintext integers and additive
//! shares: every operation here is linear or a re-arrangement, except [`maxpool_plain`] and
//! [`avgpool_sum`]'s plaintext use. Layout is C×H×W, row-major.

/// C×H×W.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Shape {
    /// Channels.
    pub c: usize,
    /// Height (rows).
    pub h: usize,
    /// Width (columns).
    pub w: usize,
}

impl Shape {
    /// The shape `c × h × w`.
    pub const fn new(c: usize, h: usize, w: usize) -> Self {
        Shape { c, h, w }
    }
    /// Number of elements, `c·h·w`.
    pub fn numel(&self) -> usize {
        self.c * self.h * self.w
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// im2col: a `d2 × d3` matrix with `d2 = C·k·k` (row index `c·k² + dy·k + dx`) and
/// `d3 = H_out·W_out` (column index `oy·W_out + ox`). Padding contributes zeros.
pub fn im2col(
    x: &[u64],
    s: Shape,
    k: usize,
    stride: usize,
    pad: usize,
) -> (Vec<u64>, usize, usize) {
    assert_eq!(x.len(), s.numel());
    let ho = (s.h + 2 * pad - k) / stride + 1;
    let wo = (s.w + 2 * pad - k) / stride + 1;
    let d2 = s.c * k * k;
    let d3 = ho * wo;
    let mut out = vec![0u64; d2 * d3];
    for c in 0..s.c {
        for dy in 0..k {
            for dx in 0..k {
                let row = (c * k + dy) * k + dx;
                let dst = &mut out[row * d3..(row + 1) * d3];
                for oy in 0..ho {
                    let iy = (oy * stride + dy) as isize - pad as isize;
                    if iy < 0 || iy >= s.h as isize {
                        continue;
                    }
                    let src = &x[(c * s.h + iy as usize) * s.w..][..s.w];
                    for ox in 0..wo {
                        let ix = (ox * stride + dx) as isize - pad as isize;
                        if ix >= 0 && ix < s.w as isize {
                            dst[oy * wo + ox] = src[ix as usize];
                        }
                    }
                }
            }
        }
    }
    (out, d2, d3)
}

/// `C = A · B` modulo 2^64, with `A` (d1 × d2) small signed integers (e.g. plaintext weights)
/// and `B` (d2 × d3) values or shares. Blocked so the inner loop vectorises.
pub fn matmul_i64_u64(a: &[i64], b: &[u64], d1: usize, d2: usize, d3: usize) -> Vec<u64> {
    assert_eq!(a.len(), d1 * d2);
    assert_eq!(b.len(), d2 * d3);
    let mut c = vec![0u64; d1 * d3];
    const KB: usize = 64;
    const NB: usize = 1024;
    for n0 in (0..d3).step_by(NB) {
        let n1 = (n0 + NB).min(d3);
        for k0 in (0..d2).step_by(KB) {
            let k1 = (k0 + KB).min(d2);
            for i in 0..d1 {
                let crow = &mut c[i * d3 + n0..i * d3 + n1];
                for k in k0..k1 {
                    // No skip of zero weights: the time must not depend on their values.
                    let w = a[i * d2 + k] as u64;
                    let brow = &b[k * d3 + n0..k * d3 + n1];
                    for (cv, bv) in crow.iter_mut().zip(brow) {
                        *cv = cv.wrapping_add(w.wrapping_mul(*bv));
                    }
                }
            }
        }
    }
    c
}

/// `C = A · B` modulo 2^64 with `A` (d1 × d2) values or shares and `B` (d2 × d3) small signed
/// integers (an FC layer with activations on the left).
pub fn matmul_u64_i64(a: &[u64], b: &[i64], d1: usize, d2: usize, d3: usize) -> Vec<u64> {
    assert_eq!(a.len(), d1 * d2);
    assert_eq!(b.len(), d2 * d3);
    let mut c = vec![0u64; d1 * d3];
    for i in 0..d1 {
        let crow = &mut c[i * d3..(i + 1) * d3];
        for k in 0..d2 {
            let av = a[i * d2 + k];
            let brow = &b[k * d3..(k + 1) * d3];
            for (cv, bv) in crow.iter_mut().zip(brow) {
                *cv = cv.wrapping_add(av.wrapping_mul(*bv as u64));
            }
        }
    }
    c
}

/// Convolution as im2col + GEMM: weights `[cout][cin][k][k]` as i64, input shares/values;
/// returns `cout × H_out·W_out` modulo 2^64.
pub fn conv2d(
    w: &[i64],
    x: &[u64],
    s: Shape,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> Vec<u64> {
    let (cols, d2, d3) = im2col(x, s, k, stride, pad);
    matmul_i64_u64(w, &cols, cout, d2, d3)
}

/// Sum over k×k windows (stride `stride`, no padding), modulo 2^64.
pub fn avgpool_sum(x: &[u64], s: Shape, k: usize, stride: usize) -> Vec<u64> {
    let ho = (s.h - k) / stride + 1;
    let wo = (s.w - k) / stride + 1;
    let mut out = vec![0u64; s.c * ho * wo];
    for c in 0..s.c {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut acc = 0u64;
                for dy in 0..k {
                    for dx in 0..k {
                        acc = acc
                            .wrapping_add(x[(c * s.h + oy * stride + dy) * s.w + ox * stride + dx]);
                    }
                }
                out[(c * ho + oy) * wo + ox] = acc;
            }
        }
    }
    out
}

/// The k×k windows of a max pool: for each output, the input indices of its window (padding
/// positions omitted). Used by both the plaintext maximum and the secure comparison tree.
pub fn pool_windows(s: Shape, k: usize, stride: usize, pad: usize) -> (Vec<Vec<usize>>, Shape) {
    let ho = (s.h + 2 * pad - k) / stride + 1;
    let wo = (s.w + 2 * pad - k) / stride + 1;
    let mut wins = Vec::with_capacity(s.c * ho * wo);
    for c in 0..s.c {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut v = Vec::with_capacity(k * k);
                for dy in 0..k {
                    for dx in 0..k {
                        let iy = (oy * stride + dy) as isize - pad as isize;
                        let ix = (ox * stride + dx) as isize - pad as isize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < s.h && (ix as usize) < s.w {
                            v.push((c * s.h + iy as usize) * s.w + ix as usize);
                        }
                    }
                }
                wins.push(v);
            }
        }
    }
    (wins, Shape::new(s.c, ho, wo))
}

/// The transpose of the `rows` × `cols` row-major matrix `v` (`cols` × `rows`, row-major).
pub fn transpose<T: Copy + Default>(v: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut t = vec![T::default(); v.len()];
    for (r, row) in v.chunks_exact(cols.max(1)).take(rows).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            t[c * rows + r] = x;
        }
    }
    t
}

/// Plaintext max pool over signed values.
pub fn maxpool_plain(x: &[i64], s: Shape, k: usize, stride: usize, pad: usize) -> Vec<i64> {
    let (wins, _) = pool_windows(s, k, stride, pad);
    wins.iter()
        .map(|w| w.iter().map(|&i| x[i]).max().unwrap_or(0))
        .collect()
}

/// Option-A shortcut: subsample by `stride`, zero-pad channels to `cout` symmetrically.
pub fn shortcut_a(x: &[u64], s: Shape, cout: usize, stride: usize) -> Vec<u64> {
    let ho = s.h.div_ceil(stride);
    let wo = s.w.div_ceil(stride);
    let off = (cout - s.c) / 2;
    let mut out = vec![0u64; cout * ho * wo];
    for c in 0..s.c {
        for oy in 0..ho {
            for ox in 0..wo {
                out[((c + off) * ho + oy) * wo + ox] =
                    x[(c * s.h + oy * stride) * s.w + ox * stride];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_conv(
        w: &[i64],
        x: &[i64],
        s: Shape,
        cout: usize,
        k: usize,
        st: usize,
        p: usize,
    ) -> Vec<i64> {
        let ho = (s.h + 2 * p - k) / st + 1;
        let wo = (s.w + 2 * p - k) / st + 1;
        let mut out = vec![0i64; cout * ho * wo];
        for o in 0..cout {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = 0i64;
                    for c in 0..s.c {
                        for dy in 0..k {
                            for dx in 0..k {
                                let iy = (oy * st + dy) as isize - p as isize;
                                let ix = (ox * st + dx) as isize - p as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < s.h && (ix as usize) < s.w
                                {
                                    acc += w[((o * s.c + c) * k + dy) * k + dx]
                                        * x[(c * s.h + iy as usize) * s.w + ix as usize];
                                }
                            }
                        }
                    }
                    out[(o * ho + oy) * wo + ox] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn conv_matches_naive_and_is_linear_in_shares() {
        let s = Shape::new(3, 7, 6);
        for (k, st, p) in [
            (3, 1, 1),
            (3, 2, 1),
            (1, 1, 0),
            (1, 2, 0),
            (2, 2, 0),
            (7, 2, 3),
        ] {
            let cout = 5;
            let w: Vec<i64> = (0..cout * s.c * k * k)
                .map(|i| (i as i64 * 7919 % 5) - 2)
                .collect();
            let x: Vec<i64> = (0..s.numel())
                .map(|i| (i as i64 * 104729 % 17) - 8)
                .collect();
            let want = naive_conv(&w, &x, s, cout, k, st, p);
            let xu: Vec<u64> = x.iter().map(|&v| v as u64).collect();
            let got: Vec<i64> = conv2d(&w, &xu, s, cout, k, st, p)
                .into_iter()
                .map(|v| v as i64)
                .collect();
            assert_eq!(got, want, "k={k} st={st} p={p}");
            // shares: x = x0 + x1 mod 2^64
            let x0: Vec<u64> = (0..s.numel())
                .map(|i| (i as u64).wrapping_mul(0x9e3779b97f4a7c15))
                .collect();
            let x1: Vec<u64> = xu
                .iter()
                .zip(&x0)
                .map(|(a, b)| a.wrapping_sub(*b))
                .collect();
            let y0 = conv2d(&w, &x0, s, cout, k, st, p);
            let y1 = conv2d(&w, &x1, s, cout, k, st, p);
            let sum: Vec<i64> = y0
                .iter()
                .zip(&y1)
                .map(|(a, b)| a.wrapping_add(*b) as i64)
                .collect();
            assert_eq!(sum, want);
        }
    }

    #[test]
    fn pools_and_shortcut() {
        let s = Shape::new(2, 4, 4);
        let x: Vec<i64> = (0..32).map(|i| (i * 37 % 11) - 5).collect();
        let xu: Vec<u64> = x.iter().map(|&v| v as u64).collect();
        let sums = avgpool_sum(&xu, s, 2, 2);
        assert_eq!(sums[0] as i64, x[0] + x[1] + x[4] + x[5]);
        let mp = maxpool_plain(&x, s, 3, 2, 1);
        assert_eq!(mp[0], *[x[0], x[1], x[4], x[5]].iter().max().unwrap());
        let sc = shortcut_a(&xu, s, 4, 2);
        assert_eq!(sc.len(), 4 * 2 * 2);
        assert_eq!(sc[4], xu[0]); // channel 0 lands at channel 1
        assert_eq!(sc[0], 0);
        let m = matmul_u64_i64(&[1, 2, 3, 4], &[1, -1, 2, 0], 2, 2, 2);
        assert_eq!(
            m.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            vec![5, -1, 11, -3]
        );
    }
}
