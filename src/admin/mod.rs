//! The pages people see: `/.scimgate/me` and the admin UI.

pub mod config;
