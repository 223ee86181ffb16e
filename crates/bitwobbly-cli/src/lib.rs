//! Command-line parsing and output for the `bitwobbly` binary.
