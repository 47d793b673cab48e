//! Packing of a convolution (and of a matmul, as a 1×1 convolution) into polynomials of the
//! negacyclic ring Z\[x\]/(x^N+1), so that one polynomial product per (input block, kernel
//! block) puts every needed output value at a known coefficient.
//!
//! This is Cheetah's HomConv encoding (Huang, Lu, Hong, Ding, USENIX Security 2022),
//! generalised to several output channels per polynomial. The module is pure integer code:
//! it only says what goes where; the HE layer multiplies an encrypted input polynomial by the
//! kernel polynomials and sums over channel groups.
//!
//! # The encoding
//!
//! The convolution is solved as a stride-1 problem over a *virtual input*: the zero-padded
//! input when `k > 1` (outputs at multiples of the stride are then extracted), or, when
//! `k == 1`, the padded input subsampled at multiples of the stride (a 1×1 convolution with
//! stride `s` is a stride-1 one on the subsampled input).
//!
//! The virtual input is tiled spatially into `Ht×Wt` tiles whose neighbours overlap by
//! `k−1` rows/columns; each tile yields `(Ht−k+1)×(Wt−k+1)` stride-1 outputs. Input channels
//! are grouped `Ct` per input polynomial and output channels `Mt` per output polynomial, with
//! `Mt·Ct·Ht·Wt ≤ N`. With `S = Ct·Ht·Wt` and `O = (Ct−1)·Ht·Wt + (k−1)·Wt + (k−1)`:
//!
//! * input polynomial (tile, channel group `g`): coefficient `c'·Ht·Wt + i·Wt + j` holds
//!   `Xv[g·Ct + c', row0 + i, col0 + j]`;
//! * kernel polynomial (output group `mg`, channel group `g`): coefficient
//!   `m'·S + O − c'·Ht·Wt − u·Wt − v` holds `W[mg·Mt + m', g·Ct + c', u, v]`;
//! * the negacyclic product's coefficient `m'·S + O + i·Wt + j` (`0 ≤ i ≤ Ht−k`,
//!   `0 ≤ j ≤ Wt−k`) is then exactly the partial sum over the group's channels of the
//!   stride-1 output of channel `mg·Mt + m'` at tile position `(i, j)`; summing the products
//!   over the channel groups gives the output.
//!
//! Why it is exact: every index pair (input `p`, kernel `q`) satisfies `p + q < N + O`, so no
//! product term wraps onto a target coefficient (whose index is at least `O`). A term lands on
//! the target only if `(c₁−c₂)·Ht·Wt + (i₁−u)·Wt + (j₁−v) = i·Wt + j` with the same `m'`; the
//! ranges `i ≤ Ht−k`, `j ≤ Wt−k`, `i₁−u ≥ −(k−1)`, `j₁−v ∈ [−(k−1), Wt−1]` force `c₁ = c₂`,
//! `i₁ = i + u` and `j₁ = j + v`. The tests check this against a direct convolution.

use std::sync::OnceLock;

/// Geometry of a convolution `Y = W ⊛ X`.
///
/// `X` is `C×H×W` (flat index `c·H·W + i·W + j`), the kernel is `M×C×k×k` (flat index
/// `m·C·k·k + c·k·k + u·k + v`), zero padding `pad` on all four sides, and
/// `Y[m, oi, oj] = Σ_{c,u,v} W[m,c,u,v] · Xpad[c, oi·stride + u, oj·stride + v]` is
/// `M×Ho×Wo` with `Ho = (H + 2·pad − k)/stride + 1` (likewise `Wo`).
///
/// The fields are public for convenience; [`ConvGeom::conv`] and [`ConvGeom::matmul`] build a
/// validated geometry and [`Packing::new`] re-validates whatever it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ConvGeom {
    /// Input channels `C`.
    pub c: usize,
    /// Input height `H`.
    pub h: usize,
    /// Input width `W`.
    pub w: usize,
    /// Output channels `M`.
    pub m: usize,
    /// Kernel side `k`.
    pub k: usize,
    /// Stride (≥ 1).
    pub stride: usize,
    /// Zero padding on each of the four sides.
    pub pad: usize,
}

impl ConvGeom {
    /// A validated convolution geometry: `None` unless every dimension, `k` and `stride` are
    /// at least 1, the padded input is at least `k×k`, and every tensor length fits `usize`.
    pub fn conv(
        c: usize,
        h: usize,
        w: usize,
        m: usize,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Option<ConvGeom> {
        let g = ConvGeom {
            c,
            h,
            w,
            m,
            k,
            stride,
            pad,
        };
        g.is_valid().then_some(g)
    }

    /// The matmul `W (d1×d2) · X (d2×d3)` as the 1×1 convolution
    /// `C = d2, H = 1, W = d3, M = d1` (X's layout `d2×d3` is `C×1×W`, Y's is `d1×d3`).
    pub fn matmul(d1: usize, d2: usize, d3: usize) -> Option<ConvGeom> {
        ConvGeom::conv(d2, 1, d3, d1, 1, 1, 0)
    }

    /// Whether the geometry is well formed (see [`ConvGeom::conv`]).
    pub fn is_valid(&self) -> bool {
        self.lengths().is_some()
    }

    /// `(input len, kernel len, output len, Hp, Wp)` with overflow checks; `None` if invalid.
    fn lengths(&self) -> Option<(usize, usize, usize, usize, usize)> {
        let ConvGeom {
            c,
            h,
            w,
            m,
            k,
            stride,
            pad,
        } = *self;
        if c == 0 || h == 0 || w == 0 || m == 0 || k == 0 || stride == 0 {
            return None;
        }
        let hp = h.checked_add(pad.checked_mul(2)?)?;
        let wp = w.checked_add(pad.checked_mul(2)?)?;
        if hp < k || wp < k {
            return None;
        }
        let ho = (hp - k) / stride + 1;
        let wo = (wp - k) / stride + 1;
        let input = c.checked_mul(h)?.checked_mul(w)?;
        let kernel = m.checked_mul(c)?.checked_mul(k)?.checked_mul(k)?;
        let output = m.checked_mul(ho)?.checked_mul(wo)?;
        Some((input, kernel, output, hp, wp))
    }

    /// Padded height `H + 2·pad`.
    pub fn hp(&self) -> usize {
        self.h + 2 * self.pad
    }

    /// Padded width `W + 2·pad`.
    pub fn wp(&self) -> usize {
        self.w + 2 * self.pad
    }

    /// Output height `Ho = (Hp − k)/stride + 1`.
    pub fn ho(&self) -> usize {
        (self.hp() - self.k) / self.stride + 1
    }

    /// Output width `Wo = (Wp − k)/stride + 1`.
    pub fn wo(&self) -> usize {
        (self.wp() - self.k) / self.stride + 1
    }

    /// Length of `X`: `C·H·W`.
    pub fn input_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Length of the kernel: `M·C·k·k`.
    pub fn kernel_len(&self) -> usize {
        self.m * self.c * self.k * self.k
    }

    /// Length of `Y`: `M·Ho·Wo`.
    pub fn output_len(&self) -> usize {
        self.m * self.ho() * self.wo()
    }
}

/// Block sizes of a packing: `ct` input channels per input polynomial, `mt` output channels
/// per output polynomial, and `ht×wt` spatial tiles of the virtual input (halo included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Tiling {
    /// Input channels per input polynomial `Ct`.
    pub ct: usize,
    /// Output channels per output polynomial `Mt`.
    pub mt: usize,
    /// Tile height `Ht` (rows of the virtual input, halo of `k−1` included).
    pub ht: usize,
    /// Tile width `Wt` (columns of the virtual input, halo of `k−1` included).
    pub wt: usize,
}

/// Errors of the encoding functions: a polynomial index or a slice length the caller got
/// wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// A polynomial index is out of range.
    #[error("{what} polynomial index {index} out of range (there are {count})")]
    Index {
        /// Which kind of polynomial.
        what: &'static str,
        /// The index given.
        index: usize,
        /// The number of polynomials of that kind.
        count: usize,
    },
    /// A slice has the wrong length.
    #[error("{what} has length {got}, expected {expected}")]
    Length {
        /// Which slice.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length required.
        expected: usize,
    },
}

/// The output maps: `entries[starts[p]..starts[p+1]]` are output polynomial `p`'s
/// `(coefficient, flat Y index)` pairs, sorted by coefficient.
#[derive(Debug, Clone)]
struct Maps {
    entries: Vec<(u32, u32)>,
    starts: Vec<usize>,
}

/// A validated packing of a [`ConvGeom`] into polynomials of degree `n` with a [`Tiling`].
///
/// Numbering: spatial tiles are row-major (`tile = tile_row·nW + tile_col`); input polynomial
/// `tile·channel_groups + g`; output polynomial `tile·output_groups + mg`; kernel polynomial
/// `mg·channel_groups + g` (the same kernels serve every spatial tile). Output polynomial
/// `tile·output_groups + mg` is `Σ_g input(tile, g) · kernel(mg, g)` in Z\[x\]/(x^n+1).
///
/// Construction is cheap (a few integers): the output maps are built on the first call of
/// [`Packing::outputs`] or [`Packing::decode_output`] and kept (about 8 bytes per output).
#[derive(Debug, Clone)]
pub struct Packing {
    geom: ConvGeom,
    n: usize,
    t: Tiling,
    /// Subsampling of the padded input into the virtual input (`stride` when `k == 1`).
    sv: usize,
    /// Stride of the wanted outputs in the stride-1 output grid (`stride` when `k > 1`).
    se: usize,
    /// Extent of the stride-1 output grid that holds every wanted output.
    hs: usize,
    ws: usize,
    /// Tiles per direction.
    nh: usize,
    nw: usize,
    /// Channel groups and output groups.
    cg: usize,
    og: usize,
    maps: OnceLock<Maps>,
}

/// The values `v ∈ [1, max]` that are the smallest with their `ceil(total / v)`, ascending
/// (`O(√total)` of them). `max ≥ 1`, `total ≥ 1`.
fn minimal_per_count(total: usize, max: usize) -> impl Iterator<Item = usize> {
    let mut v = 1usize;
    std::iter::from_fn(move || {
        if v > max || v > total {
            return None;
        }
        let cur = v;
        let g = total.div_ceil(cur);
        v = if g <= 1 {
            usize::MAX
        } else {
            total.div_ceil(g - 1)
        };
        Some(cur)
    })
}

impl Packing {
    /// Validates and builds a packing; `None` unless: the geometry is valid, `n` is a power of
    /// two with `n ≤ 2^31`, `1 ≤ ct ≤ C`, `1 ≤ mt ≤ M`, `k ≤ ht ≤ Hneed` and `k ≤ wt ≤ Wneed`
    /// (where `Hneed = (Ho−1)·s' + k` is the extent of the virtual input that any wanted
    /// output reads, `s' = stride` if `k > 1` else 1), `mt·ct·ht·wt ≤ n`, and `M·Ho·Wo` fits
    /// `u32`.
    pub fn new(geom: ConvGeom, n: usize, t: Tiling) -> Option<Packing> {
        let (_, _, out_len, _, _) = geom.lengths()?;
        if !n.is_power_of_two() || n > 1 << 31 || u32::try_from(out_len).is_err() {
            return None;
        }
        let p = Packing::raw(geom, n, t);
        let (hneed, wneed) = (p.hs + geom.k - 1, p.ws + geom.k - 1);
        let fits =
            t.mt.checked_mul(t.ct)
                .and_then(|x| x.checked_mul(t.ht))
                .and_then(|x| x.checked_mul(t.wt))
                .is_some_and(|x| x <= n);
        let ok = (1..=geom.c).contains(&t.ct)
            && (1..=geom.m).contains(&t.mt)
            && (geom.k..=hneed).contains(&t.ht)
            && (geom.k..=wneed).contains(&t.wt)
            && fits;
        ok.then_some(p)
    }

    /// Derived counts, no validation (the caller guarantees a valid geometry and tiling).
    fn raw(geom: ConvGeom, n: usize, t: Tiling) -> Packing {
        let (sv, se) = if geom.k == 1 {
            (geom.stride, 1)
        } else {
            (1, geom.stride)
        };
        let hs = (geom.ho() - 1) * se + 1;
        let ws = (geom.wo() - 1) * se + 1;
        let oh = t.ht.saturating_sub(geom.k - 1).max(1);
        let ow = t.wt.saturating_sub(geom.k - 1).max(1);
        Packing {
            geom,
            n,
            t,
            sv,
            se,
            hs,
            ws,
            nh: hs.div_ceil(oh),
            nw: ws.div_ceil(ow),
            cg: geom.c.div_ceil(t.ct.max(1)),
            og: geom.m.div_ceil(t.mt.max(1)),
            maps: OnceLock::new(),
        }
    }

    /// The geometry.
    pub fn geom(&self) -> &ConvGeom {
        &self.geom
    }

    /// The block sizes.
    pub fn tiling(&self) -> Tiling {
        self.t
    }

    /// The ring degree `N`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Spatial tiles per direction `(nH, nW)`.
    pub fn tiles_per_dir(&self) -> (usize, usize) {
        (self.nh, self.nw)
    }

    /// Number of spatial tiles `nH·nW`.
    pub fn spatial_tiles(&self) -> usize {
        self.nh * self.nw
    }

    /// Number of input channel groups `ceil(C/Ct)`.
    pub fn channel_groups(&self) -> usize {
        self.cg
    }

    /// Number of output channel groups `ceil(M/Mt)`.
    pub fn output_groups(&self) -> usize {
        self.og
    }

    /// Number of input polynomials, `spatial_tiles · channel_groups`.
    pub fn input_polys(&self) -> usize {
        self.spatial_tiles() * self.cg
    }

    /// Number of output polynomials, `spatial_tiles · output_groups`.
    pub fn output_polys(&self) -> usize {
        self.spatial_tiles() * self.og
    }

    /// Number of kernel polynomials, `output_groups · channel_groups`.
    pub fn kernel_polys(&self) -> usize {
        self.og * self.cg
    }

    /// Number of outputs `M·Ho·Wo` (each is at exactly one coefficient of one output
    /// polynomial).
    pub fn total_outputs(&self) -> usize {
        self.geom.output_len()
    }

    /// The largest number of kernel coefficients that can be nonzero, summed over the channel
    /// groups of one output group: `Mt·C·k·k`. The noise of an output polynomial grows with
    /// the L1 norm of the kernel polynomials it sums, which is at most this times `max |W|`.
    pub fn max_kernel_l1(&self) -> usize {
        self.t.mt * self.geom.c * self.geom.k * self.geom.k
    }

    /// `S = Ct·Ht·Wt`, the span of one output channel in an output polynomial.
    fn span(&self) -> usize {
        self.t.ct * self.t.ht * self.t.wt
    }

    /// `O = (Ct−1)·Ht·Wt + (k−1)·Wt + (k−1)`.
    fn offset(&self) -> usize {
        let k1 = self.geom.k - 1;
        (self.t.ct - 1) * self.t.ht * self.t.wt + k1 * self.t.wt + k1
    }

    fn check_index(&self, what: &'static str, index: usize, count: usize) -> Result<(), PackError> {
        if index < count {
            Ok(())
        } else {
            Err(PackError::Index { what, index, count })
        }
    }

    fn check_len(what: &'static str, got: usize, expected: usize) -> Result<(), PackError> {
        if got == expected {
            Ok(())
        } else {
            Err(PackError::Length {
                what,
                got,
                expected,
            })
        }
    }

    /// Writes input polynomial `idx` (tile `idx / channel_groups`, channel group
    /// `idx % channel_groups`) into `out` (length `n`): `X`'s values are copied as they are,
    /// every other coefficient is zero. `x` is `C×H×W` flat, the full unpadded input (the
    /// padding and, for `k == 1`, the stride subsampling are done here).
    pub fn encode_input(&self, x: &[u64], idx: usize, out: &mut [u64]) -> Result<(), PackError> {
        let g = &self.geom;
        self.check_index("input", idx, self.input_polys())?;
        Self::check_len("input tensor", x.len(), g.input_len())?;
        Self::check_len("input polynomial", out.len(), self.n)?;
        out.fill(0);
        let (tile, grp) = (idx / self.cg, idx % self.cg);
        let (tr, tc) = (tile / self.nw, tile % self.nw);
        let Tiling { ct, ht, wt, .. } = self.t;
        let r0 = tr * (ht - g.k + 1);
        let c0 = tc * (wt - g.k + 1);
        for cp in 0..ct {
            let c = grp * ct + cp;
            if c >= g.c {
                break;
            }
            for i in 0..ht {
                // Row of the padded input, then of X.
                let pr = (r0 + i) * self.sv;
                let Some(xr) = pr.checked_sub(g.pad).filter(|&r| r < g.h) else {
                    continue;
                };
                let src = &x[(c * g.h + xr) * g.w..][..g.w];
                let dst = &mut out[cp * ht * wt + i * wt..][..wt];
                for (j, d) in dst.iter_mut().enumerate() {
                    let pc = (c0 + j) * self.sv;
                    if let Some(xc) = pc.checked_sub(g.pad).filter(|&q| q < g.w) {
                        *d = src[xc];
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes kernel polynomial `idx` (output group `idx / channel_groups`, channel group
    /// `idx % channel_groups`) into `out` (length `n`). `w` is `M×C×k×k` flat.
    pub fn encode_kernel(&self, w: &[i64], idx: usize, out: &mut [i64]) -> Result<(), PackError> {
        let g = &self.geom;
        self.check_index("kernel", idx, self.kernel_polys())?;
        Self::check_len("kernel tensor", w.len(), g.kernel_len())?;
        Self::check_len("kernel polynomial", out.len(), self.n)?;
        out.fill(0);
        let (mg, grp) = (idx / self.cg, idx % self.cg);
        let Tiling { ct, mt, ht, wt } = self.t;
        let (s, o, k) = (self.span(), self.offset(), g.k);
        for mp in 0..mt {
            let m = mg * mt + mp;
            if m >= g.m {
                break;
            }
            for cp in 0..ct {
                let c = grp * ct + cp;
                if c >= g.c {
                    break;
                }
                let src = &w[(m * g.c + c) * k * k..][..k * k];
                let base = mp * s + o - cp * ht * wt;
                for u in 0..k {
                    for v in 0..k {
                        out[base - u * wt - v] = src[u * k + v];
                    }
                }
            }
        }
        Ok(())
    }

    fn maps(&self) -> &Maps {
        self.maps.get_or_init(|| self.build_maps())
    }

    fn build_maps(&self) -> Maps {
        let g = &self.geom;
        let Tiling { mt, ht, wt, .. } = self.t;
        let (oh, ow) = (ht - g.k + 1, wt - g.k + 1);
        let (s, o) = (self.span(), self.offset());
        let (ho, wo) = (g.ho(), g.wo());
        let mut entries = Vec::with_capacity(self.total_outputs());
        let mut starts = Vec::with_capacity(self.output_polys() + 1);
        // Coefficients and Y indices fit u32: `new` checks n ≤ 2^31 and M·Ho·Wo ≤ u32::MAX.
        let as_u32 = |x: usize| u32::try_from(x).expect("checked by Packing::new");
        for tr in 0..self.nh {
            for tc in 0..self.nw {
                for mg in 0..self.og {
                    starts.push(entries.len());
                    for mp in 0..mt {
                        let m = mg * mt + mp;
                        if m >= g.m {
                            break;
                        }
                        for i in 0..oh {
                            let sr = tr * oh + i;
                            if sr >= self.hs {
                                break;
                            }
                            if sr % self.se != 0 {
                                continue;
                            }
                            let yrow = (m * ho + sr / self.se) * wo;
                            for j in 0..ow {
                                let sc = tc * ow + j;
                                if sc >= self.ws {
                                    break;
                                }
                                if sc % self.se != 0 {
                                    continue;
                                }
                                let coeff = mp * s + o + i * wt + j;
                                entries.push((as_u32(coeff), as_u32(yrow + sc / self.se)));
                            }
                        }
                    }
                }
            }
        }
        starts.push(entries.len());
        Maps { entries, starts }
    }

    /// Output polynomial `idx`'s `(coefficient, flat Y index m·Ho·Wo + oi·Wo + oj)` pairs,
    /// sorted by coefficient; `None` if `idx ≥ output_polys()`. Every Y index appears in
    /// exactly one output polynomial. The first call builds the maps of all polynomials.
    pub fn outputs(&self, idx: usize) -> Option<&[(u32, u32)]> {
        if idx >= self.output_polys() {
            return None;
        }
        let m = self.maps();
        Some(&m.entries[m.starts[idx]..m.starts[idx + 1]])
    }

    /// Number of used coefficients of output polynomial `idx` (`outputs(idx).len()`).
    pub fn used_coeffs(&self, idx: usize) -> Option<usize> {
        self.outputs(idx).map(<[_]>::len)
    }

    /// Scatters output polynomial `idx` (length `n`, the sum over channel groups of the
    /// products) into `y` (length `M·Ho·Wo`); other entries of `y` are left as they are.
    pub fn decode_output(&self, poly: &[u64], idx: usize, y: &mut [u64]) -> Result<(), PackError> {
        self.check_index("output", idx, self.output_polys())?;
        Self::check_len("output polynomial", poly.len(), self.n)?;
        Self::check_len("output tensor", y.len(), self.total_outputs())?;
        for &(coeff, yi) in self.outputs(idx).unwrap_or_default() {
            y[yi as usize] = poly[coeff as usize];
        }
        Ok(())
    }

    /// The tiling minimising `score` among the candidates, with its score; `None` if the
    /// geometry or `n` is invalid or every candidate scores `None` (infeasible).
    ///
    /// Candidates are the tilings that are minimal for their counts: for every number of tiles
    /// per direction `(nH, nW)` the smallest `(Ht, Wt)` giving it, for every
    /// `ceil(C/Ct)` the smallest `Ct`, and for every `ceil(M/Mt)` reachable under
    /// `Mt·Ct·Ht·Wt ≤ n` the smallest `Mt`. Any other tiling has the same polynomial counts as
    /// one of these with larger blocks (hence no smaller `max_kernel_l1`), so a score that
    /// depends on the counts and grows with `Mt` loses nothing. The `Packing` passed to
    /// `score` is cheap; calling its `outputs` builds the maps (slow, avoid in scores). Ties
    /// keep the first candidate in the order: `Ht` ascending, then `Wt`, `Ct`, `Mt` ascending.
    pub fn best(
        geom: ConvGeom,
        n: usize,
        mut score: impl FnMut(&Packing) -> Option<u64>,
    ) -> Option<(Packing, u64)> {
        let (_, _, out_len, _, _) = geom.lengths()?;
        if !n.is_power_of_two() || n > 1 << 31 || u32::try_from(out_len).is_err() {
            return None;
        }
        let k = geom.k;
        let se = if k == 1 { 1 } else { geom.stride };
        let hs = (geom.ho() - 1) * se + 1;
        let ws = (geom.wo() - 1) * se + 1;
        let mut best: Option<(Packing, u64)> = None;
        for oh in minimal_per_count(hs, hs) {
            let ht = oh + k - 1;
            if ht > n {
                break;
            }
            for ow in minimal_per_count(ws, ws) {
                let wt = ow + k - 1;
                let hw = ht * wt;
                if hw > n {
                    break;
                }
                // One candidate per spatial shape, its channel blocks updated in place (no
                // construction per candidate).
                let mut cand = Packing::raw(
                    geom,
                    n,
                    Tiling {
                        ct: 1,
                        mt: 1,
                        ht,
                        wt,
                    },
                );
                let cmax = geom.c.min(n / hw);
                for ct in minimal_per_count(geom.c, cmax) {
                    let mmax = geom.m.min(n / (ct * hw));
                    cand.t.ct = ct;
                    cand.cg = geom.c.div_ceil(ct);
                    for mt in minimal_per_count(geom.m, mmax) {
                        cand.t.mt = mt;
                        cand.og = geom.m.div_ceil(mt);
                        if let Some(sc) = score(&cand)
                            && best.as_ref().is_none_or(|(_, b)| sc < *b)
                        {
                            best = Some((Packing::raw(geom, n, cand.t), sc));
                        }
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_per_count_is_exact() {
        for total in 1..60 {
            for max in 1..70 {
                let got: Vec<usize> = minimal_per_count(total, max).collect();
                let want: Vec<usize> = (1..=max.min(total))
                    .filter(|&v| v == 1 || total.div_ceil(v - 1) != total.div_ceil(v))
                    .collect();
                assert_eq!(got, want, "total {total} max {max}");
            }
        }
    }
}
