//! The caseless key of a name.

/// The key under which a userName, a group displayName or an e-mail is indexed: the
/// caseless key of [`crate::ident`], so that the directory, the store, the policy
/// engine and claim mapping agree on when two names are the same. Every name index
/// (and any new one) computes its key here.
pub fn name_key(name: &str) -> String {
    crate::ident::caseless_key(name)
}
