//! Operations surfaces: the admin listener with `/metrics`, `/healthz` and `/readyz`.

pub mod config;
