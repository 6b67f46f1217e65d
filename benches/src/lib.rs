//! Criterion benchmarks for the engine; the benchmarks themselves live under `benches/benches/`.
//!
//! Every benchmark measures our code against a baseline in the same run (plain handlebars, a bare reqwest call, the bare
//! executor), so the ratio is what we report, not an absolute time that depends on the machine.
