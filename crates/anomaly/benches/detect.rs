//! Detection at scale: 100,000 daily series × 400 days scored on every core.
//!
//! `cargo bench -p curwatch-anomaly` (release build of this crate only). Prints one line
//! per run and the median; figures go in docs/anomaly-detection.md.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use curwatch_anomaly::{Params, score};

const SERIES: usize = 100_000;
const DAYS: usize = 400;
const RUNS: usize = 3;

fn main() {
    let series: usize = std::env::var("BENCH_SERIES").ok().and_then(|s| s.parse().ok()).unwrap_or(SERIES);
    let data = generate(series, DAYS);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let params = Params::default();
    let mut times = Vec::new();
    for run in 1..=RUNS {
        let started = Instant::now();
        let flagged: usize = std::thread::scope(|scope| {
            let chunk = data.len().div_ceil(threads);
            let handles: Vec<_> = data
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|values| score(values, 0, &params).iter().filter(|v| v.is_candidate()).count())
                            .sum::<usize>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("scoring thread")).sum()
        });
        let seconds = started.elapsed().as_secs_f64();
        times.push(seconds);
        println!(
            "run {run}: {series} series × {DAYS} days on {threads} thread(s): {seconds:.2} s ({:.0} series/s, {:.1} M points/s), {flagged} candidate days",
            series as f64 / seconds,
            (series * DAYS) as f64 / seconds / 1e6
        );
    }
    times.sort_by(f64::total_cmp);
    println!("median {:.2} s, min {:.2} s, max {:.2} s", times[RUNS / 2], times[0], times[RUNS - 1]);
}

/// Weekly-seasonal series with growth and noise, from a fixed seed (no allocation per point).
fn generate(series: usize, days: usize) -> Vec<Vec<f64>> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut unit = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..series)
        .map(|_| {
            let level = 20.0 + 2_000.0 * unit();
            let weekend = 0.4 + 0.6 * unit();
            let growth = 0.1 * unit() / 30.0;
            (0..days)
                .map(|d| {
                    let season = if d % 7 >= 5 { weekend } else { 1.0 };
                    level * season * (1.0 + growth).powi(d as i32) * (0.9 + 0.2 * unit())
                })
                .collect()
        })
        .collect()
}
