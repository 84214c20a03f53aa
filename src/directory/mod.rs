//! The directory: users, groups and memberships in memory, the cache every request reads.
//!
//! It is loaded from the store at start and changed only by [`writer::Writer`], after the
//! store has committed a change, so everything a reader sees is durable. Lookups are by
//! id, case-insensitive userName, externalId, e-mail and group displayName; users by
//! caseless userName and groups by caseless displayName are also kept in order (for
//! sorted listings and prefix filters, a page at any depth without a sort); members are
//! kept as sets (a change to a 100,000-member group touches only the members it names);
//! each user's effective groups (direct groups plus every group that contains them,
//! through nesting) are kept as a sorted, shared slice so that policy checks read them
//! without locks or allocation.

pub mod error;
mod freshness;
mod grants;
mod index;
mod keys;
mod load;
mod plan;
mod signal;
mod slots;
mod stats;
pub mod writer;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use foldhash::fast::RandomState;

pub use error::DirectoryError;
pub use freshness::{Freshness, FreshnessStatus};
pub use grants::TempGrant;
use index::{NameOrder, Order};
use keys::{Candidates, KeyIndex};
pub use load::Loader;
pub use signal::CatchUpSignal;
use slots::Slots;

use crate::ident::matches_key;
use crate::record::{name_key, GroupRecord, Member, Snapshot, StoreOp, UserRecord};
use crate::store::{Store, StoreError};

/// A hash map sharded for concurrent readers, with a fast seeded hasher (the keys are
/// ords and names, so SipHash's strength buys nothing and costs start-up time).
pub(crate) type Map<K, V> = DashMap<K, V, RandomState>;
/// A set of ords.
pub type OrdSet = HashSet<u32, RandomState>;

/// A group's members.
#[derive(Debug, Default, Clone)]
pub struct MemberSet {
    pub users: OrdSet,
    pub groups: OrdSet,
}

impl MemberSet {
    pub fn len(&self) -> usize {
        self.users.len() + self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The in-memory directory.
///
/// Users, groups and users' direct groups are kept by ord in vectors ([`Slots`]). The
/// per-user key indexes (id, caseless userName, externalId, e-mail) keep no copy of
/// the key: they file ords by the key's hash ([`KeyIndex`]) and every lookup confirms
/// the candidates against the records. Groups (few) keep ordinary maps by name and id.
#[derive(Default)]
pub struct Directory {
    users: Slots<Arc<UserRecord>>,
    groups: Slots<Arc<GroupRecord>>,
    user_ids: KeyIndex,
    group_ids: Map<Arc<str>, u32>,
    /// By caseless userName ([`name_key`]).
    user_names: KeyIndex,
    user_external: KeyIndex,
    /// By the caseless key of each e-mail.
    user_emails: KeyIndex,
    group_names: Map<Box<str>, u32>,
    group_external: KeyIndex,
    members: Map<u32, MemberSet>,
    /// Each user's direct groups, sorted (replaced whole on change: copy on write).
    user_groups: Slots<Arc<[u32]>>,
    group_parents: Map<u32, Vec<u32>>,
    /// Effective groups of the users for whom they differ from the direct ones
    /// (some direct group is nested in another); everyone else reads `user_groups`.
    effective: Map<u32, Arc<[u32]>>,
    user_order: Order,
    group_order: Order,
    /// Users by caseless userName (the key of `user_names`), ties by ord.
    user_name_order: NameOrder,
    /// Groups by caseless displayName (the key of `group_names`), ties by ord.
    group_name_order: NameOrder,
    next_user: AtomicU32,
    next_group: AtomicU32,
    seq: AtomicU64,
    /// Odd while [`Directory::apply`] is changing the maps, even between changes: a
    /// reader that sees the same even value before and after its reads saw one
    /// consistent state (see [`Directory::epoch`]).
    epoch: AtomicU64,
    /// How recently this copy caught up with a shared store.
    freshness: Freshness,
    /// Time-bound memberships from approved access requests (decisions only).
    grants: grants::Grants,
}

impl Directory {
    /// Builds the directory from a store snapshot.
    pub fn from_snapshot(snap: Snapshot) -> Self {
        let mut loader = Loader::default();
        snap.replay(&mut loader);
        loader.finish()
    }

    /// Reads the directory from the store, building it as the rows stream in.
    /// The store is read on this thread and the directory built on another at the
    /// same time (`load::load_overlapped`).
    pub fn load(store: &dyn Store) -> Result<Self, StoreError> {
        load::load_overlapped(store)
    }

    /// Logs a stored name that breaks the identifier rules or shares its caseless key
    /// with `other`, loaded before (data written before the rules): the server starts
    /// all the same; such a user cannot sign in (see `authn::identity`), and the later
    /// of two colliding names is the one found by name.
    fn report_stored_name(kind: &str, id: &str, name: &str, other: Option<u32>) {
        if let Err(e) = crate::ident::check(name) {
            tracing::warn!(kind, id, reason = %e, "a stored name breaks the identifier rules; rename it in the identity provider");
        }
        if let Some(other) = other {
            tracing::warn!(kind, id, other_ord = other, "a stored name has the same caseless key as another; rename one in the identity provider");
        }
    }

    /// How fresh this copy is (always fresh on the embedded store; on a shared
    /// store, bounded by how long ago it last caught up).
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// The sequence number of the last change applied.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// The change epoch, read before a group of reads: odd while a change is being
    /// applied. Reads bracketed by two equal even epochs ([`Directory::epoch_after`])
    /// saw one state, with no change half applied.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether no change was applied, or begun, since `before` (from
    /// [`Directory::epoch`]) was read, and none was in progress then.
    pub fn epoch_after(&self, before: u64) -> bool {
        fence(Ordering::Acquire);
        before.is_multiple_of(2) && self.epoch.load(Ordering::Relaxed) == before
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    pub fn membership_count(&self) -> usize {
        self.members.iter().map(|m| m.len()).sum()
    }

    pub fn user(&self, ord: u32) -> Option<Arc<UserRecord>> {
        self.users.get(ord)
    }

    pub fn group(&self, ord: u32) -> Option<Arc<GroupRecord>> {
        self.groups.get(ord)
    }

    /// What an id names.
    pub fn resolve(&self, id: &str) -> Option<Member> {
        if let Some(g) = self.group_ids.get(id) {
            return Some(Member::Group(*g));
        }
        self.user_ids
            .candidates(id)
            .into_iter()
            .find(|o| self.users.with(*o, |u| &*u.id == id) == Some(true))
            .map(Member::User)
    }

    /// The candidates of a user key index that `keep` confirms, ascending.
    fn confirmed_users(&self, found: Candidates, keep: impl Fn(&UserRecord) -> bool) -> Vec<u32> {
        let mut out: Vec<u32> = found
            .into_iter()
            .filter(|o| self.users.with(*o, |u| keep(u)) == Some(true))
            .collect();
        out.sort_unstable();
        out
    }

    /// The ord of the user whose userName has the caseless key `key` (the last
    /// created, should stored data hold two).
    fn user_ord_by_key(&self, key: &str) -> Option<u32> {
        self.user_names
            .candidates(key)
            .into_iter()
            .filter(|o| self.users.with(*o, |u| matches_key(&u.user_name, key)) == Some(true))
            .max()
    }

    pub fn user_by_id(&self, id: &str) -> Option<Arc<UserRecord>> {
        match self.resolve(id)? {
            Member::User(o) => self.user(o),
            Member::Group(_) => None,
        }
    }

    pub fn group_by_id(&self, id: &str) -> Option<Arc<GroupRecord>> {
        match self.resolve(id)? {
            Member::Group(o) => self.group(o),
            Member::User(_) => None,
        }
    }

    /// userName lookup by caseless key ([`name_key`]).
    pub fn user_by_name(&self, user_name: &str) -> Option<Arc<UserRecord>> {
        // A name that is its own key (most are) is looked up without a copy.
        let ord = if crate::ident::is_key(user_name) {
            self.user_ord_by_key(user_name)?
        } else {
            self.user_ord_by_key(&name_key(user_name))?
        };
        self.user(ord)
    }

    pub fn users_by_external_id(&self, external_id: &str) -> Vec<u32> {
        let found = self.user_external.candidates(external_id);
        self.confirmed_users(found, |u| u.external_id.as_deref() == Some(external_id))
    }

    /// E-mail lookup by caseless key.
    pub fn users_by_email(&self, email: &str) -> Vec<u32> {
        let key = name_key(email);
        let found = self.user_emails.candidates(&key);
        self.confirmed_users(found, |u| u.emails.iter().any(|e| matches_key(e, &key)))
    }

    /// Group displayName lookup by caseless key.
    pub fn group_by_name(&self, name: &str) -> Option<Arc<GroupRecord>> {
        let ord = *self.group_names.get(name_key(name).as_str())?;
        self.group(ord)
    }

    /// The ord of the group with this displayName, given as its [`name_key`] (the
    /// policy engine compiles names so; this lookup does not allocate).
    pub fn group_ord_by_lower_name(&self, lower: &str) -> Option<u32> {
        self.group_names.get(lower).map(|o| *o)
    }

    pub fn groups_by_external_id(&self, external_id: &str) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .group_external
            .candidates(external_id)
            .into_iter()
            .filter(|o| {
                self.groups
                    .with(*o, |g| g.external_id.as_deref() == Some(external_id))
                    == Some(true)
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// One page of user ords in creation order (`skip`, then at most `take`), and the total.
    pub fn user_page(&self, skip: usize, take: usize) -> (usize, Vec<u32>) {
        self.user_order.page(skip, take)
    }

    /// One page of group ords in creation order, and the total.
    pub fn group_page(&self, skip: usize, take: usize) -> (usize, Vec<u32>) {
        self.group_order.page(skip, take)
    }

    /// Users ordered by caseless userName (ties by ord) whose userName starts with
    /// `prefix` caselessly (every user for an empty prefix): how many, and the ords of
    /// `skip..skip + take` of them, ascending or descending. Reads only the page.
    pub fn user_name_page(
        &self,
        prefix: &str,
        skip: usize,
        take: usize,
        descending: bool,
    ) -> (usize, Vec<u32>) {
        self.user_name_order
            .page(&name_key(prefix), skip, take, descending)
    }

    /// The ords of every user whose userName starts with `prefix` caselessly, in
    /// userName order.
    pub fn users_with_name_prefix(&self, prefix: &str) -> Vec<u32> {
        self.user_name_order.with_prefix(&name_key(prefix))
    }

    /// Groups ordered by caseless displayName, as [`Directory::user_name_page`].
    pub fn group_name_page(
        &self,
        prefix: &str,
        skip: usize,
        take: usize,
        descending: bool,
    ) -> (usize, Vec<u32>) {
        self.group_name_order
            .page(&name_key(prefix), skip, take, descending)
    }

    /// The ords of every group whose displayName starts with `prefix` caselessly.
    pub fn groups_with_name_prefix(&self, prefix: &str) -> Vec<u32> {
        self.group_name_order.with_prefix(&name_key(prefix))
    }

    /// Up to `take` user ords after `after` in creation order (from the first with
    /// `None`): how a scan walks the directory a chunk at a time.
    pub fn user_ords_after(&self, after: Option<u32>, take: usize) -> Vec<u32> {
        self.user_order.after(after, take)
    }

    /// Up to `take` group ords after `after` in creation order.
    pub fn group_ords_after(&self, after: Option<u32>, take: usize) -> Vec<u32> {
        self.group_order.after(after, take)
    }

    /// User ords in creation order.
    pub fn user_ords(&self) -> Vec<u32> {
        self.user_order.all()
    }

    /// Group ords in creation order.
    pub fn group_ords(&self) -> Vec<u32> {
        self.group_order.all()
    }

    /// A group's members (a copy; for rendering).
    pub fn members_of(&self, group: u32) -> MemberSet {
        self.members
            .get(&group)
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Number of members of a group, without copying them.
    pub fn member_count(&self, group: u32) -> usize {
        self.members.get(&group).map(|m| m.len()).unwrap_or(0)
    }

    /// Whether a group has no groups among its members.
    pub(crate) fn members_of_groups_empty(&self, group: u32) -> bool {
        self.members.get(&group).is_none_or(|m| m.groups.is_empty())
    }

    pub fn is_member(&self, group: u32, member: Member) -> bool {
        self.members.get(&group).is_some_and(|m| match member {
            Member::User(u) => m.users.contains(&u),
            Member::Group(g) => m.groups.contains(&g),
        })
    }

    /// The groups a user is directly in, sorted.
    pub fn direct_groups(&self, user: u32) -> Arc<[u32]> {
        self.user_groups
            .get(user)
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// The groups a group is directly in.
    pub fn parent_groups(&self, group: u32) -> Vec<u32> {
        self.group_parents
            .get(&group)
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    /// Every group a user is in, directly or through nesting, sorted.
    pub fn effective_groups(&self, user: u32) -> Arc<[u32]> {
        match self.effective.get(&user) {
            Some(g) => g.clone(),
            None => self.direct_groups(user),
        }
    }

    /// The groups decisions judge a user by: their effective groups, plus each group
    /// a time-bound grant holding now gives them and every group containing it. SCIM
    /// reads use [`Directory::effective_groups`] instead, which never include grants.
    pub fn decision_groups(&self, user: u32) -> Arc<[u32]> {
        let effective = self.effective_groups(user);
        if self.grants.is_empty() {
            return effective;
        }
        let now = crate::clock::to_millis(time::OffsetDateTime::now_utc());
        let Some(live) = self.grants.live(user, now) else {
            return effective;
        };
        let granted: Vec<u32> = live
            .iter()
            .filter_map(|g| self.group_ord_by_lower_name(&g.group))
            .collect();
        if granted.is_empty() {
            return effective;
        }
        let mut all = self.ancestors(&granted);
        all.extend(effective.iter().copied());
        Arc::from(all.into_iter().collect::<Vec<u32>>())
    }

    /// Gives `user` a time-bound membership of the group named `group` until `ends_at`
    /// (Unix milliseconds), by access request `id` (replacing one of the same id).
    pub fn grant_start(&self, user: u32, id: &str, group: &str, ends_at: i64) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::Release);
        self.grants.insert(
            user,
            TempGrant {
                id: Arc::from(id),
                group: name_key(group).into(),
                ends_at,
            },
        );
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// Ends the time-bound membership from access request `id`; whether there was one.
    pub fn grant_end(&self, id: &str) -> bool {
        if !self.grants.holds(id) {
            return false;
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::Release);
        let removed = self.grants.remove(id);
        self.epoch.fetch_add(1, Ordering::Release);
        removed
    }

    /// Changes whenever a time-bound membership starts or is removed (caches of what
    /// a user's groups say key on it beside [`Directory::seq`]).
    pub fn grants_generation(&self) -> u64 {
        self.grants.generation()
    }

    /// How many time-bound memberships are held (ended ones not yet removed included).
    pub fn grant_count(&self) -> usize {
        self.grants.count()
    }

    /// Whether `ancestor` is `group` or contains it, through any nesting.
    pub fn group_contains(&self, ancestor: u32, group: u32) -> bool {
        self.ancestors(&[group]).contains(&ancestor)
    }

    /// `groups` plus every group that contains one of them.
    fn ancestors(&self, groups: &[u32]) -> BTreeSet<u32> {
        let mut seen: BTreeSet<u32> = BTreeSet::new();
        let mut todo: Vec<u32> = groups.to_vec();
        while let Some(g) = todo.pop() {
            if seen.insert(g) {
                if let Some(parents) = self.group_parents.get(&g) {
                    todo.extend(parents.iter().copied());
                }
            }
        }
        seen
    }

    /// `group` plus every group nested in it.
    pub fn descendant_groups(&self, group: u32) -> BTreeSet<u32> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![group];
        while let Some(g) = todo.pop() {
            if seen.insert(g) {
                if let Some(m) = self.members.get(&g) {
                    todo.extend(m.groups.iter().copied());
                }
            }
        }
        seen
    }

    /// Users in a group or any group nested in it.
    fn users_under(&self, groups: &[u32]) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        for g in groups {
            for d in self.descendant_groups(*g) {
                if let Some(m) = self.members.get(&d) {
                    out.extend(m.users.iter().copied());
                }
            }
        }
        out
    }

    fn recompute_user(&self, user: u32) {
        let direct = self.direct_groups(user);
        let nested = direct
            .iter()
            .any(|g| self.group_parents.get(g).is_some_and(|p| !p.is_empty()));
        if nested {
            let eff: Vec<u32> = self.ancestors(&direct).into_iter().collect();
            self.effective.insert(user, Arc::from(eff));
        } else {
            self.effective.remove(&user);
        }
    }

    pub(crate) fn allocate_user_ord(&self) -> u32 {
        self.next_user.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn allocate_group_ord(&self) -> u32 {
        self.next_group.fetch_add(1, Ordering::Relaxed)
    }

    fn index_user(&self, u: &Arc<UserRecord>, before: Option<&UserRecord>) {
        if let Some(b) = before {
            self.unindex_user_keys(b);
        }
        let key = name_key(&u.user_name);
        self.user_name_order.insert(&key, u.ord);
        self.index_user_keys(u, &key);
        self.users.insert(u.ord, u.clone());
        self.user_order.insert(u.ord);
    }

    /// Files a user under its caseless userName `key`, externalId, e-mails and id.
    fn index_user_keys(&self, u: &UserRecord, key: &str) {
        self.user_names.insert(key, u.ord);
        if let Some(e) = &u.external_id {
            self.user_external.insert(e, u.ord);
        }
        for e in u.emails.iter() {
            self.user_emails.insert(&name_key(e), u.ord);
        }
        self.user_ids.insert(&u.id, u.ord);
    }

    fn unindex_user_keys(&self, b: &UserRecord) {
        let key = name_key(&b.user_name);
        self.user_name_order.remove(&key, b.ord);
        self.user_names.remove(&key, b.ord);
        if let Some(e) = &b.external_id {
            self.user_external.remove(e, b.ord);
        }
        for e in b.emails.iter() {
            self.user_emails.remove(&name_key(e), b.ord);
        }
        self.user_ids.remove(&b.id, b.ord);
    }

    fn index_group(&self, g: &Arc<GroupRecord>, before: Option<&GroupRecord>) {
        if let Some(b) = before {
            let key = name_key(&b.display_name);
            self.group_name_order.remove(&key, b.ord);
            self.group_names.remove_if(key.as_str(), |_, o| *o == b.ord);
            if let Some(e) = &b.external_id {
                self.group_external.remove(e, b.ord);
            }
        }
        let key = name_key(&g.display_name);
        self.group_name_order.insert(&key, g.ord);
        self.index_group_keys(g, key.into());
        self.groups.insert(g.ord, g.clone());
        self.group_order.insert(g.ord);
    }

    /// Files a group under its caseless displayName `key`, externalId and id.
    fn index_group_keys(&self, g: &GroupRecord, key: Box<str>) {
        self.group_names.insert(key, g.ord);
        if let Some(e) = &g.external_id {
            self.group_external.insert(e, g.ord);
        }
        self.group_ids.insert(g.id.clone(), g.ord);
    }

    fn link(&self, group: u32, member: Member) {
        let mut set = self.members.entry(group).or_default();
        match member {
            Member::User(u) => {
                if set.users.insert(u) {
                    let gs = self.direct_groups(u);
                    if let Err(pos) = gs.binary_search(&group) {
                        let mut next = gs.to_vec();
                        next.insert(pos, group);
                        self.user_groups.insert(u, Arc::from(next));
                    }
                }
            }
            Member::Group(h) => {
                if set.groups.insert(h) {
                    let mut ps = self.group_parents.entry(h).or_default();
                    if let Err(pos) = ps.binary_search(&group) {
                        ps.insert(pos, group);
                    }
                }
            }
        }
    }

    fn unlink(&self, group: u32, member: Member) {
        let removed = match self.members.get_mut(&group) {
            Some(mut set) => match member {
                Member::User(u) => set.users.remove(&u),
                Member::Group(h) => set.groups.remove(&h),
            },
            None => false,
        };
        if !removed {
            return;
        }
        match member {
            Member::User(u) => {
                self.user_groups.update(u, |gs| {
                    let next: Vec<u32> = gs.iter().copied().filter(|g| *g != group).collect();
                    *gs = Arc::from(next);
                });
            }
            Member::Group(h) => {
                if let Some(mut ps) = self.group_parents.get_mut(&h) {
                    ps.retain(|g| *g != group);
                }
            }
        }
    }

    /// Applies committed store operations and advances the sequence number. Changes
    /// replayed from other replicas carry ords this copy did not allocate: the next
    /// ords move past them, so a later plan never reuses one.
    pub(crate) fn apply(&self, ops: &[StoreOp], seq: u64) {
        for op in ops {
            match op {
                StoreOp::PutUser(u) => {
                    self.next_user
                        .fetch_max(u.ord.saturating_add(1), Ordering::Relaxed);
                }
                StoreOp::PutGroup(g) => {
                    self.next_group
                        .fetch_max(g.ord.saturating_add(1), Ordering::Relaxed);
                }
                _ => {}
            }
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::Release);
        let mut recompute: BTreeSet<u32> = BTreeSet::new();
        for op in ops {
            match op {
                StoreOp::PutUser(u) => {
                    let before = self.user(u.ord);
                    self.index_user(u, before.as_deref());
                    if before.is_none() {
                        recompute.insert(u.ord);
                    }
                }
                StoreOp::DeleteUser { ord } => {
                    for g in self.direct_groups(*ord).iter() {
                        self.unlink(*g, Member::User(*ord));
                    }
                    if let Some(u) = self.users.remove(*ord) {
                        self.unindex_user_keys(&u);
                    }
                    self.user_groups.remove(*ord);
                    self.effective.remove(ord);
                    self.user_order.remove(*ord);
                    recompute.remove(ord);
                }
                StoreOp::PutGroup(g) => {
                    let before = self.group(g.ord);
                    self.index_group(g, before.as_deref());
                }
                StoreOp::DeleteGroup { ord } => {
                    let affected = self.users_under(&[*ord]);
                    let set = self.members_of(*ord);
                    for u in &set.users {
                        self.unlink(*ord, Member::User(*u));
                    }
                    for h in &set.groups {
                        self.unlink(*ord, Member::Group(*h));
                    }
                    for p in self.parent_groups(*ord) {
                        self.unlink(p, Member::Group(*ord));
                    }
                    self.members.remove(ord);
                    self.group_parents.remove(ord);
                    if let Some(g) = self.groups.remove(*ord) {
                        let key = name_key(&g.display_name);
                        self.group_name_order.remove(&key, g.ord);
                        self.group_names.remove_if(key.as_str(), |_, o| *o == g.ord);
                        if let Some(e) = &g.external_id {
                            self.group_external.remove(e, g.ord);
                        }
                        self.group_ids.remove_if(&*g.id, |_, o| *o == g.ord);
                    }
                    self.group_order.remove(*ord);
                    recompute.extend(affected);
                }
                StoreOp::Members {
                    group,
                    replace_all,
                    add,
                    remove,
                } => {
                    let mut changed_groups: Vec<u32> = Vec::new();
                    if *replace_all {
                        let old = self.members_of(*group);
                        recompute.extend(self.users_under(&[*group]));
                        for u in old.users {
                            self.unlink(*group, Member::User(u));
                        }
                        for h in old.groups {
                            self.unlink(*group, Member::Group(h));
                        }
                    }
                    for m in remove.iter().chain(add.iter()) {
                        if let Member::Group(h) = m {
                            changed_groups.push(*h);
                        }
                    }
                    // Users under a child group that is unlinked lose access through it.
                    recompute.extend(self.users_under(&changed_groups));
                    for m in remove {
                        self.unlink(*group, *m);
                        if let Member::User(u) = m {
                            recompute.insert(*u);
                        }
                    }
                    for m in add {
                        self.link(*group, *m);
                        if let Member::User(u) = m {
                            recompute.insert(*u);
                        }
                    }
                    recompute.extend(self.users_under(&changed_groups));
                }
            }
        }
        for u in recompute {
            if self.users.contains(u) {
                self.recompute_user(u);
            }
        }
        self.seq.fetch_max(seq, Ordering::AcqRel);
        self.epoch.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests;
