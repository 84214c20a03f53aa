//! Fuzz target: the policy path matcher: a path and its canonical spellings match alike
//! (the property check lives in `scimgate::fuzzing`, which `cargo test` also
//! replays over `fuzz/corpus/path_match`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    scimgate::fuzzing::check_path_match(data);
});
