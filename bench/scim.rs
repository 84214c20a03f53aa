//! SCIM benchmarks (being written).

fn main() {}
