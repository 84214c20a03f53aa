//! Integration tests: one binary, one module per concern (links once).

mod support;
