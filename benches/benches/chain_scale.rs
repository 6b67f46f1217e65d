//! Whether the cost of one step stays constant as runbooks grow, and the engine's overhead over the bare executor.
//!
//! - `chain_scale/N`: a chain of N fire-and-forget tasks driven to completion durably on SQLite, each task starting by
//!   itself when its predecessor completes and completing when its fire succeeds; reported per task (throughput).
//!   Sizes come from `CHAIN_SCALE_SIZES` (default `100,1000,10000,100000`). Flat per-task times mean a step costs the
//!   same in a runbook of 100 and of 100,000 tasks.
//! - `chain_50`: the engine's overhead per task on a chain of 50 over the bare executor sending the same 50 requests
//!   one after the other to the same loopback sink.
//! - `fires_10000`: 10,000 independent tasks started together, against the bare executor sending 10,000 requests at
//!   the dispatcher's concurrency; reported as fires per second. A third function, `floor`, is the least any engine
//!   that records each fire durably does on this machine: the bare executor's requests plus the rows the engine wrote
//!   for the same fan (read back from its run: task rows, fire rows, actions log, events), written by prepared
//!   statements on a thread of their own, the start in one transaction before the first request and each outcome in a
//!   group commit while the requests go on.
//!
//! Criterion reports times per function; the ratios asked for (per-task time at each size over the smallest, engine
//! over bare executor) are printed at the end of the run from the same measurements (`RATIO` lines), so that every
//! number compared comes from one run on one machine state.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

mod support;
use support::{CONCURRENCY, Setup, run_engine, runbook, send_bare, setup};

#[path = "support/fan_floor.rs"]
mod fan_floor;
#[path = "support/floor_rows.rs"]
mod floor_rows;

/// The allocator the server binary runs with, on both sides of every comparison (the engine and the bare executor).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SHORT_CHAIN: usize = 50;
const FAN: usize = 10_000;

/// The fan's requests through the bare executor, at most `CONCURRENCY` at a time, as the dispatcher runs them.
async fn send_fan_bare(setup: &Setup, count: usize) {
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..count {
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        let executor = setup.executor.clone();
        let action = setup.action.clone();
        sends.spawn(async move {
            send_bare(&executor, &action, n).await;
            drop(permit);
        });
    }
    while let Some(sent) = sends.join_next().await {
        sent.expect("a send");
    }
}

/// Total time and iterations per measured function, for the ratios printed at the end.
#[derive(Default)]
struct Tally {
    measured: Mutex<BTreeMap<String, (Duration, u64)>>,
}

impl Tally {
    fn add(&self, name: &str, elapsed: Duration, iterations: u64) {
        let mut measured = self.measured.lock().expect("tally");
        let entry = measured.entry(name.to_owned()).or_default();
        entry.0 += elapsed;
        entry.1 += iterations;
    }

    /// Mean time of one iteration.
    fn mean(&self, name: &str) -> Option<Duration> {
        let measured = self.measured.lock().expect("tally");
        measured.get(name).filter(|(_, n)| *n > 0).map(|(total, n)| *total / (*n as u32))
    }
}

fn sizes() -> Vec<usize> {
    std::env::var("CHAIN_SCALE_SIZES")
        .ok()
        .map(|text| text.split(',').filter_map(|size| size.trim().parse().ok()).collect::<Vec<usize>>())
        .filter(|sizes| !sizes.is_empty())
        .unwrap_or_else(|| vec![100, 1_000, 10_000, 100_000])
}

fn bench_all(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let setup = runtime.block_on(setup());
    let tally = Tally::default();
    let sizes = sizes();
    bench_scale(c, &runtime, &setup, &tally, &sizes);
    bench_short_chain(c, &runtime, &setup, &tally);
    bench_fan(c, &runtime, &setup, &tally);
    report(&tally, &sizes);
}

fn bench_scale(c: &mut Criterion, runtime: &Runtime, setup: &Setup, tally: &Tally, sizes: &[usize]) {
    let mut group = c.benchmark_group("chain_scale");
    group.sample_size(10).warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_secs(3));
    for &size in sizes {
        let chain = runbook(size, true);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        total += run_engine(&setup.engine, &chain).await;
                    }
                    tally.add(&format!("chain/{size}"), total, iterations);
                    total
                })
            });
        });
    }
    group.finish();
}

fn bench_short_chain(c: &mut Criterion, runtime: &Runtime, setup: &Setup, tally: &Tally) {
    let chain = runbook(SHORT_CHAIN, true);
    let mut group = c.benchmark_group("chain_50");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(SHORT_CHAIN as u64));
    group.bench_function("bare_executor", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    for n in 0..SHORT_CHAIN {
                        send_bare(&setup.executor, &setup.action, n).await;
                    }
                }
                let total = started.elapsed();
                tally.add("chain_50/bare", total, iterations);
                total
            })
        });
    });
    group.bench_function("engine_sqlite", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += run_engine(&setup.engine, &chain).await;
                }
                tally.add("chain_50/engine", total, iterations);
                total
            })
        });
    });
    group.finish();
}

fn bench_fan(c: &mut Criterion, runtime: &Runtime, setup: &Setup, tally: &Tally) {
    let fan = runbook(FAN, false);
    let mut group = c.benchmark_group("fires_10000");
    group.sample_size(10).warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(FAN as u64));
    group.bench_function("bare_executor", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    send_fan_bare(setup, FAN).await;
                }
                let total = started.elapsed();
                tally.add("fires/bare", total, iterations);
                total
            })
        });
    });
    group.bench_function("engine_sqlite", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += run_engine(&setup.engine, &fan).await;
                }
                tally.add("fires/engine", total, iterations);
                total
            })
        });
    });
    let rows = Arc::new(runtime.block_on(fan_floor::FanRows::read(&setup.engine, FAN)));
    group.bench_function("floor", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += fan_floor::run(setup, &fan, &rows).await;
                }
                tally.add("fires/floor", total, iterations);
                total
            })
        });
    });
    group.finish();
}

/// Prints the ratios from this run's measurements.
fn report(tally: &Tally, sizes: &[usize]) {
    let per_task = |size: usize| tally.mean(&format!("chain/{size}")).map(|mean| mean.as_secs_f64() / size as f64);
    if let Some(smallest) = sizes.iter().copied().min().and_then(|size| per_task(size).map(|time| (size, time))) {
        for &size in sizes {
            if let Some(time) = per_task(size) {
                println!(
                    "RATIO chain_scale/{size}: {:.3} ms per task, {:.2}x the per-task time at {}",
                    time * 1e3,
                    time / smallest.1,
                    smallest.0
                );
            }
        }
    }
    if let (Some(bare), Some(engine)) = (tally.mean("chain_50/bare"), tally.mean("chain_50/engine")) {
        let overhead = (engine.as_secs_f64() - bare.as_secs_f64()) / SHORT_CHAIN as f64;
        println!(
            "RATIO chain_50: engine overhead {:.3} ms per task over the bare executor ({:.3} ms vs {:.3} ms per task)",
            overhead * 1e3,
            engine.as_secs_f64() * 1e3 / SHORT_CHAIN as f64,
            bare.as_secs_f64() * 1e3 / SHORT_CHAIN as f64
        );
    }
    if let (Some(bare), Some(engine)) = (tally.mean("fires/bare"), tally.mean("fires/engine")) {
        let rate = |time: Duration| FAN as f64 / time.as_secs_f64();
        println!(
            "RATIO fires_10000: engine {:.0} fires/s, bare executor {:.0} requests/s: {:.0}% of the bare executor",
            rate(engine),
            rate(bare),
            100.0 * rate(engine) / rate(bare)
        );
        if let Some(floor) = tally.mean("fires/floor") {
            println!(
                "RATIO fires_10000 floor: the bare requests with the engine's rows written beside them {:.0} fires/s: \
                 {:.0}% of the bare executor",
                rate(floor),
                100.0 * rate(floor) / rate(bare)
            );
        }
    }
}

criterion_group!(benches, bench_all);
criterion_main!(benches);
