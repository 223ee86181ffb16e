//! Envelope parsing throughput.
//!
//! Run with: `cargo bench -p bench-envelope`.

use std::hint::black_box;

use bench_envelope::{attachment_envelope, small_envelope};
use bitwobbly_envelope::Envelope;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");

    let large = attachment_envelope(16 * 1024 * 1024);
    group.throughput(Throughput::Bytes(large.len() as u64));
    group.bench_function("attachment_16mib", |b| {
        b.iter_batched(
            || large.clone(),
            |input| black_box(Envelope::parse(input)),
            BatchSize::SmallInput,
        )
    });

    let small = small_envelope();
    group.throughput(Throughput::Elements(1));
    group.bench_function("small_event", |b| {
        b.iter_batched(
            || small.clone(),
            |input| black_box(Envelope::parse(input)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
