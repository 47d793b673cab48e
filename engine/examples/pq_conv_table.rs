//! Print the ResNet50 conv table (privquant.md) in both profiles.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows = pq_engine::proto::pq_micro::conv_table()?;
    println!("conv           A  profile    option      L   GB       rounds  paper  ratio");
    for pair in rows.chunks(2) {
        for r in pair {
            println!(
                "({:2},{:3},{}) W{}A{} {:9} {:10} {:2} {:.4} {:6} {} {}",
                r.hw,
                r.channels,
                r.k,
                r.wbits,
                r.abits,
                r.profile,
                r.option,
                r.acc_bits,
                r.gb,
                r.rounds,
                r.paper_gb.map(|v| format!("{v}")).unwrap_or("-".into()),
                if r.profile == "privquant" {
                    format!("{:.2}x", pair[0].bytes as f64 / r.bytes as f64)
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}
