//! Fuzz target: SCIM PATCH path parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimgate_scim::path::parse_path;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_path(s);
    }
});
