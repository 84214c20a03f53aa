//! What the follower reports about sessions, to whoever keeps them.
//!
//! The follower sits below the session cache in the layers: it names this trait, the
//! session cache implements it, and the composition root hands the cache to
//! [`super::follow::spawn`].

use futures_util::future::BoxFuture;

/// Receives the sessions other replicas ended.
pub trait SessionEnds: Send + Sync + 'static {
    /// A session ended elsewhere (by the SHA-256 of its token): forget it.
    fn ended(&self, token_hash: &[u8]);

    /// The follower is listening again: forget every session the store no longer
    /// holds (ended while nothing was listening).
    fn resync(&self) -> BoxFuture<'_, ()>;
}
