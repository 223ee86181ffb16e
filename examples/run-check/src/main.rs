//! Run with: `cargo run -p example-run-check -- https://example.com/`
fn main() {}
