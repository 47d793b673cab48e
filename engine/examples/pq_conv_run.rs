//! Run one privquant conv: `pq_conv_run HW C K ABITS` (W2, stride 1, ReLU input).
use pq_engine::Profile;
use pq_engine::proto::conv::ConvParams;
use pq_engine::proto::pq_micro::run_conv_pq;
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let (hw, ch, k, abits) = (a[0], a[1], a[2], a[3] as u32);
    let c = ConvParams {
        hw,
        cin: ch,
        cout: ch,
        k,
        stride: 1,
        wbits: 2,
        abits,
        signed_input: false,
        sci_threads: 1,
        profile: Profile::PrivQuant,
    };
    let r = run_conv_pq(&c, pq_netsim::Transport::Mem, None)?;
    println!("{}", serde_json::to_string_pretty(&r)?);
    Ok(())
}
