//! The pieces every HTML page scimgate renders shares: escaping ([`escape`]), the one
//! page shell ([`shell`]), the one set of page headers with the one
//! Content-Security-Policy ([`headers`]), the HTML and redirect responses that carry
//! them ([`response`]), the pages surface's one error map ([`failure`]), and the
//! stylesheet and icon the pages link ([`assets`]), and the CSRF token of a session's
//! forms ([`csrf`]).
//!
//! Used by the sign-in pages (`authn`), the gate's refusals (`gate`), `/me` and the
//! admin UI (`admin`); a leaf: it imports no other module of scimgate. Pages are
//! server-rendered with no script and nothing inline: every style is in the one
//! stylesheet, which the CSP allows alone (no `'unsafe-inline'`).

pub mod assets;
pub mod csrf;
pub mod escape;
pub mod failure;
pub mod headers;
pub mod response;
pub mod shell;

pub use csrf::{csrf_field, csrf_token};
pub use escape::{url_encode, E};
pub use failure::{Failure, FailurePage};
pub use headers::{page_headers, CSP, REFERRER_POLICY};
pub use response::{html, see_other};
pub use shell::{links, message_page, narrow_page, page, refresh_page};
