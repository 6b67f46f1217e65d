//! The durable engine end to end on SQLite against the bare HTTP executor, both sending the same requests to the same
//! loopback sink in the same run.
//!
//! - `engine_chain_50`: a chain of 50 fire-and-forget tasks, each starting by itself when its predecessor completes
//!   and completing when its fire succeeds. The engine commits every step durably (the fire's outcome, its actions
//!   log, the runbook's next state and the next fire, in one transaction). The baseline sends the 50 requests one
//!   after the other through the bare executor. (engine − baseline) / 50 is the engine's own overhead per task.
//! - `engine_fires_200`: 200 independent fire-and-forget tasks started together; the baseline sends the 200 requests
//!   with the same concurrency as the engine's dispatcher. Reported as fires per second.
//!
//! Each engine iteration runs a new runbook (created outside the timed part) from `StartRunbook` to the event that
//! says it is complete.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

mod support;
use support::{CONCURRENCY, Setup, run_engine, runbook, send_bare, setup};

const CHAIN: usize = 50;
const FAN: usize = 200;

fn bench_engine(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let setup = runtime.block_on(setup());
    bench_chain(c, &runtime, &setup);
    bench_fan(c, &runtime, &setup);
}

fn bench_chain(c: &mut Criterion, runtime: &Runtime, setup: &Setup) {
    let chain = runbook(CHAIN, true);
    let mut group = c.benchmark_group("engine_chain_50");
    group.sample_size(20).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(CHAIN as u64));
    group.bench_function("bare_executor", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    for n in 0..CHAIN {
                        send_bare(&setup.executor, &setup.action, n).await;
                    }
                }
                started.elapsed()
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
                total
            })
        });
    });
    group.finish();
}

fn bench_fan(c: &mut Criterion, runtime: &Runtime, setup: &Setup) {
    let fan = runbook(FAN, false);
    let mut group = c.benchmark_group("engine_fires_200");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(FAN as u64));
    group.bench_function("bare_executor", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    send_fan_bare(setup).await;
                }
                started.elapsed()
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
                total
            })
        });
    });
    group.finish();
}

/// The fan's requests through the bare executor, at most `CONCURRENCY` at a time, as the dispatcher runs them.
async fn send_fan_bare(setup: &Setup) {
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..FAN {
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

criterion_group!(benches, bench_engine);
criterion_main!(benches);
