//! Fuzz target: the request header sanitiser: no identity header survives in any spelling
//! (the property check lives in `scimgate::fuzzing`, which `cargo test` also
//! replays over `fuzz/corpus/header_sanitise`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    scimgate::fuzzing::check_header_sanitise(data);
});
