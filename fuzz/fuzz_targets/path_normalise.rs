//! Fuzz target: the request path normaliser: canonical, idempotent, no ambiguous escapes left
//! (the property check lives in `scimgate::fuzzing`, which `cargo test` also
//! replays over `fuzz/corpus/path_normalise`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    scimgate::fuzzing::check_path_normalise(data);
});
