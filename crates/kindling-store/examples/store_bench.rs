//! Create throughput and latency of `SqliteStore` with many concurrent writers, fsync on every
//! commit (the store's normal mode).
//!
//! cargo run --release -p kindling-store --example store_bench -- [--writers 32] [--creates 20000]
//!     [--value-bytes 1024] [--dir PATH]
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use std::sync::Arc;
use std::time::{Duration, Instant};

use kindling_store::{SqliteStore, Store};

struct Args {
    writers: usize,
    creates: usize,
    value_bytes: usize,
    dir: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        writers: 32,
        creates: 20_000,
        value_bytes: 1024,
        dir: None,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|error| format!("{flag}: {error}"))
        };
        match flag.as_str() {
            "--writers" => args.writers = number()?.max(1),
            "--creates" => args.creates = number()?,
            "--value-bytes" => args.value_bytes = number()?,
            "--dir" => args.dir = Some(value.into()),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let store = Arc::new(SqliteStore::open(&dir.join("bench.db"))?);
    let per_writer = args.creates / args.writers;

    let started = Instant::now();
    let workers: Vec<_> = (0..args.writers)
        .map(|writer| {
            let store = store.clone();
            let value = vec![b'x'; args.value_bytes];
            std::thread::spawn(move || -> Result<Vec<Duration>, String> {
                let mut latencies = Vec::with_capacity(per_writer);
                for i in 0..per_writer {
                    let key = format!("/registry/bench/ns-{writer}/obj-{i}");
                    let call = Instant::now();
                    store
                        .create(&key, value.clone())
                        .map_err(|error| error.to_string())?;
                    latencies.push(call.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(args.creates);
    for worker in workers {
        latencies.extend(worker.join().map_err(|_| "a writer panicked")??);
    }
    let elapsed = started.elapsed();
    latencies.sort();

    let total = latencies.len();
    println!(
        "{total} creates of {} bytes by {} writers in {:.2?}: {:.0} creates/s",
        args.value_bytes,
        args.writers,
        elapsed,
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency p50 {:.2?}  p90 {:.2?}  p99 {:.2?}  max {:.2?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    Ok(())
}
