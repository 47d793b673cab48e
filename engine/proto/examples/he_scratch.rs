use pq_proto::Profile;
use pq_proto::privquant::he_linear;
use pq_proto::privquant::linear::{self, ConvShape, InputKind, LinearParams, Objective};
fn main() {
    // ResNet50 (224) convs at W2A6 (8-bit first)
    let layers = [
        (224, 3, 64, 7, 2, 8, 8, InputKind::Clear { nonneg: true }),
        (56, 64, 64, 1, 1, 2, 6, InputKind::NonNeg),
        (56, 64, 64, 3, 1, 2, 6, InputKind::NonNeg),
        (56, 64, 256, 1, 1, 2, 6, InputKind::NonNeg),
        (56, 256, 64, 1, 1, 2, 6, InputKind::NonNeg),
        (56, 256, 128, 1, 1, 2, 6, InputKind::NonNeg),
        (28, 128, 128, 3, 1, 2, 6, InputKind::NonNeg),
        (28, 128, 512, 1, 1, 2, 6, InputKind::NonNeg),
        (28, 512, 128, 1, 1, 2, 6, InputKind::NonNeg),
        (14, 256, 256, 3, 1, 2, 6, InputKind::NonNeg),
        (14, 1024, 256, 1, 1, 2, 6, InputKind::NonNeg),
        (14, 256, 1024, 1, 1, 2, 6, InputKind::NonNeg),
        (7, 512, 512, 3, 1, 2, 6, InputKind::NonNeg),
        (7, 2048, 512, 1, 1, 2, 6, InputKind::NonNeg),
        (7, 512, 2048, 1, 1, 2, 6, InputKind::NonNeg),
    ];
    for (hw, cin, cout, k, s, lw, lx, inp) in layers {
        let lp = LinearParams::conv(ConvShape::new(hw, cin, cout, k, s), lw, lx, inp);
        let l = lp.acc_bits().unwrap();
        let t = std::time::Instant::now();
        let he = he_linear::cost_at(&lp, l).unwrap();
        let dt = t.elapsed();
        let (o, c) = linear::choose_at(&lp, Objective::Bytes, l, Profile::PrivQuant).unwrap();
        let hp = he_linear::plan(&lp, l);
        let desc = hp
            .as_ref()
            .map(|h| {
                format!(
                    "{:?} c2s={:.2}MB s2c={:.2}MB {:?} in={} out={} bits_a={} fb={}",
                    h.layout,
                    h.client_bytes() as f64 / 1e6,
                    h.server_bytes() as f64 / 1e6,
                    h.packing.tiling(),
                    h.packing.input_polys(),
                    h.packing.output_polys(),
                    h.noise.shrink.bits_a(&pq_he::Params::STD),
                    h.noise.shrink.flood_bits
                )
            })
            .unwrap_or_default();
        println!(
            "{hw}x{hw} {cin}->{cout} k{k}s{s} l={l}: OT {} {:.2} MB | HE {:.2} MB ({:.0} ms plan) comp~{:.2}s {desc}",
            o.name(),
            c.total() as f64 / 1e6,
            he.map(|h| h.total() as f64 / 1e6).unwrap_or(f64::NAN),
            dt.as_secs_f64() * 1e3,
            he_linear::compute_ns(&lp, l).unwrap_or(0) as f64 / 1e9
        );
    }
}
