//! The `bitwobbly` binary.

fn main() {}
