//! `cargo run -p kindling-config --example check -- FILE`: prints the resolved cluster or the errors.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location
fn main() {
    let path = std::env::args().nth(1).expect("usage: check FILE");
    let config = match kindling_config::Config::load_file(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ERROR: {e}");
            std::process::exit(1);
        }
    };
    let name = kindling_config::resolve_name(
        None,
        std::env::var("KIND_CLUSTER_NAME").ok().as_deref(),
        Some(&config.cluster.name),
    );
    match config.resolve(&kindling_config::ResolveOptions {
        name,
        default_image: "kindling/node".into(),
        ..Default::default()
    }) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("WARNING: {}", w.with_source(&config.source.name));
            }
            println!("{}", serde_json::to_string_pretty(&c).unwrap());
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            std::process::exit(1);
        }
    }
}
