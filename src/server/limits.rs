//! What the process lets the listener spend: the open-descriptor limit, from which
//! the connection cap is derived when `server.max_connections` is not written (the
//! `server:` section itself is [`crate::config::server`]).

/// The soft open-descriptor limit of this process, when the platform tells.
pub fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}
