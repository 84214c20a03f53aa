//! What the follower reports about access requests, to the access service.
//!
//! The follower sits below the access service in the layers: it names this trait,
//! `access::Access` implements it, and the composition root hands it over.

/// Receives the access requests other replicas wrote.
pub trait GrantChanges: Send + Sync + 'static {
    /// Request `id` changed on another replica: read it again (start or end its grant).
    fn changed(&self, id: &str);

    /// The follower is listening again: read every open request again.
    fn resync(&self);
}
