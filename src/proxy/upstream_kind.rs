//! Which kind of upstream error (the `kind` label of `scimgate_upstream_errors`) a
//! forwarding error counts as.

use super::error::ProxyError;
use crate::metrics::routes::UpstreamErrorKind;

impl ProxyError {
    /// The kind of a forwarding error; `None` for the client's own fault (a request
    /// body it stopped sending), which is not the upstream's and is counted among
    /// connection closures instead.
    pub fn upstream_kind(&self) -> Option<UpstreamErrorKind> {
        Some(match self {
            ProxyError::UpstreamConnect(_) => UpstreamErrorKind::Connect,
            ProxyError::UpstreamConnectTimeout(_) => UpstreamErrorKind::ConnectTimeout,
            ProxyError::UpstreamConnectionCap(_) => UpstreamErrorKind::ConnectionCap,
            ProxyError::Upstream(_) | ProxyError::UnexpectedSwitch => UpstreamErrorKind::Exchange,
            ProxyError::ResponseTimeout => UpstreamErrorKind::ResponseTimeout,
            ProxyError::Overloaded => UpstreamErrorKind::Overloaded,
            ProxyError::Cancelled => UpstreamErrorKind::Cancelled,
            ProxyError::RequestBodyStalled => return None,
            ProxyError::Path(_)
            | ProxyError::AmbiguousPath(_)
            | ProxyError::BadUpstreamUri { .. }
            | ProxyError::UpstreamUri(_)
            | ProxyError::CaFile { .. }
            | ProxyError::Tls(_)
            | ProxyError::KeyFile { .. }
            | ProxyError::KeyInvalid { .. }
            | ProxyError::Signing => UpstreamErrorKind::Config,
        })
    }
}
