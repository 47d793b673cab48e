//! Prints `pq_netsim::bench::accuracy_report()` as Markdown, then as one JSON line.
fn main() {
    let r = pq_netsim::bench::accuracy_report();
    println!("{}", r.to_markdown());
    match serde_json::to_string(&r) {
        Ok(j) => println!("{j}"),
        Err(e) => eprintln!("cannot serialize the report: {e}"),
    }
}
