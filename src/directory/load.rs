//! Building the directory at start from the store's rows as they stream in
//! ([`SnapshotSink`]), so that no list of every record is held beside the directory.
//!
//! Each row goes straight into its place: the records into their slots and key indexes
//! (sized beforehand from the highest ords), the name orders collected and sorted once
//! at the end instead of inserted one by one, and each user's direct groups built in
//! one piece when the store hands a user's memberships together (any order is handled).
//!
//! [`load_overlapped`] reads on the calling thread and builds on another: the rows go
//! over in batches through a bounded channel, so reading the store (decoding rows,
//! coding bodies) and building the indexes run at once, with at most a few batches of
//! rows in flight.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

use super::index::NameOrder;
use super::{Directory, MemberSet};
use crate::record::{name_key, GroupRecord, Member, SnapshotSink, UserRecord};
use crate::store::{Store, StoreError};

/// Rows per batch handed to the building thread.
const BATCH: usize = 4096;
/// Batches in flight at most.
const IN_FLIGHT: usize = 8;

/// One row as the store handed it.
enum Row {
    Expect(u32, u32),
    User(UserRecord),
    Group(GroupRecord),
    Membership(u32, Member),
    LastSeq(u64),
}

/// The reading side: collects rows into batches and sends them to the builder.
struct Batches {
    tx: SyncSender<Vec<Row>>,
    batch: Vec<Row>,
    /// The builder stopped taking rows (it failed): the rest are dropped.
    gone: bool,
}

impl Batches {
    fn push(&mut self, row: Row) {
        self.batch.push(row);
        if self.batch.len() >= BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if !self.gone && self.tx.send(batch).is_err() {
            self.gone = true;
        }
    }
}

impl SnapshotSink for Batches {
    fn expect(&mut self, user_ords: u32, group_ords: u32) {
        self.push(Row::Expect(user_ords, group_ords));
    }
    fn user(&mut self, user: UserRecord) {
        self.push(Row::User(user));
    }
    fn group(&mut self, group: GroupRecord) {
        self.push(Row::Group(group));
    }
    fn membership(&mut self, group: u32, member: Member) {
        self.push(Row::Membership(group, member));
    }
    fn last_seq(&mut self, seq: u64) {
        self.push(Row::LastSeq(seq));
    }
}

/// Reads `store` on this thread while another builds the directory from its rows.
pub fn load_overlapped(store: &dyn Store) -> Result<super::Directory, StoreError> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Vec<Row>>(IN_FLIGHT);
        let builder = std::thread::Builder::new()
            .name("directory-load".into())
            .spawn_scoped(scope, move || {
                let mut loader = Loader::default();
                for batch in rx {
                    for row in batch {
                        match row {
                            Row::Expect(u, g) => loader.expect(u, g),
                            Row::User(u) => loader.user(u),
                            Row::Group(g) => loader.group(g),
                            Row::Membership(g, m) => loader.membership(g, m),
                            Row::LastSeq(s) => loader.last_seq(s),
                        }
                    }
                }
                loader.finish()
            })
            .map_err(|e| {
                StoreError::Corrupt(format!("the directory builder did not start: {e}"))
            })?;
        let mut batches = Batches {
            tx,
            batch: Vec::with_capacity(BATCH),
            gone: false,
        };
        let read = store.load_into(&mut batches);
        batches.send();
        drop(batches);
        let built = builder
            .join()
            .map_err(|_| StoreError::Corrupt("the directory builder failed".into()))?;
        read.map(|()| built)
    })
}

/// Builds a [`Directory`] from streamed rows; [`Loader::finish`] hands it over.
#[derive(Default)]
pub struct Loader {
    dir: Directory,
    next_user: u32,
    next_group: u32,
    /// (caseless userName, ord), sorted at the end into the name order.
    user_names: Vec<(Box<str>, u32)>,
    group_names: Vec<(Box<str>, u32)>,
    /// Members by group ord, moved into the directory at the end.
    sets: Vec<MemberSet>,
    /// The user whose memberships are arriving, and the groups seen so far.
    current: Option<u32>,
    current_groups: Vec<u32>,
    last_seq: u64,
}

impl Loader {
    /// Sets the direct groups of the user whose memberships were arriving.
    fn flush_user(&mut self) {
        let Some(user) = self.current.take() else {
            return;
        };
        let mut gs = std::mem::take(&mut self.current_groups);
        if user >= self.next_user {
            return;
        }
        // Memberships of this user that came earlier, apart from these.
        gs.extend(self.dir.direct_groups(user).iter().copied());
        gs.sort_unstable();
        gs.dedup();
        self.dir.user_groups.insert(user, Arc::from(gs.as_slice()));
        gs.clear();
        self.current_groups = gs;
    }

    fn set(&mut self, group: u32) -> &mut MemberSet {
        let i = group as usize;
        if self.sets.len() <= i {
            self.sets.resize_with(i + 1, MemberSet::default);
        }
        &mut self.sets[i]
    }

    /// The directory, with its orders built and effective groups computed.
    pub fn finish(mut self) -> Directory {
        self.flush_user();
        let dir = self.dir;
        for (g, set) in self.sets.into_iter().enumerate() {
            if !set.is_empty() {
                dir.members.insert(g as u32, set);
            }
        }
        self.user_names.sort_unstable();
        self.group_names.sort_unstable();
        let mut dir = Directory {
            user_name_order: NameOrder::from_sorted(self.user_names),
            group_name_order: NameOrder::from_sorted(self.group_names),
            ..dir
        };
        if !dir.group_parents.is_empty() {
            for u in dir.user_order.all() {
                dir.recompute_user(u);
            }
        }
        *dir.next_user.get_mut() = self.next_user;
        *dir.next_group.get_mut() = self.next_group;
        dir.seq.store(self.last_seq, Ordering::Release);
        dir
    }
}

impl SnapshotSink for Loader {
    fn expect(&mut self, user_ords: u32, group_ords: u32) {
        let dir = &self.dir;
        dir.users.reserve(user_ords);
        dir.user_groups.reserve(user_ords);
        let n = user_ords as usize;
        for index in [
            &dir.user_ids,
            &dir.user_names,
            &dir.user_external,
            &dir.user_emails,
        ] {
            index.reserve(n);
        }
        dir.user_order.reserve(n);
        self.user_names.reserve_exact(n);
        dir.groups.reserve(group_ords);
        self.sets
            .resize_with(group_ords as usize, MemberSet::default);
    }

    fn user(&mut self, u: UserRecord) {
        self.next_user = self.next_user.max(u.ord.saturating_add(1));
        let key = name_key(&u.user_name);
        let other = self.dir.user_ord_by_key(&key);
        Directory::report_stored_name("user", &u.id, &u.user_name, other);
        self.dir.index_user_keys(&u, &key);
        self.dir.user_order.insert(u.ord);
        self.user_names.push((key.into(), u.ord));
        self.dir.users.insert(u.ord, Arc::new(u));
    }

    fn group(&mut self, g: GroupRecord) {
        self.next_group = self.next_group.max(g.ord.saturating_add(1));
        let key = name_key(&g.display_name);
        let other = self.dir.group_names.get(key.as_str()).map(|o| *o);
        Directory::report_stored_name("group", &g.id, &g.display_name, other);
        self.dir.index_group_keys(&g, key.as_str().into());
        self.dir.group_order.insert(g.ord);
        self.group_names.push((key.into(), g.ord));
        self.dir.groups.insert(g.ord, Arc::new(g));
    }

    fn membership(&mut self, group: u32, member: Member) {
        match member {
            Member::User(u) => {
                self.set(group).users.insert(u);
                if self.current != Some(u) {
                    self.flush_user();
                    self.current = Some(u);
                }
                self.current_groups.push(group);
            }
            Member::Group(h) => {
                if self.set(group).groups.insert(h) {
                    let mut ps = self.dir.group_parents.entry(h).or_default();
                    if let Err(pos) = ps.binary_search(&group) {
                        ps.insert(pos, group);
                    }
                }
            }
        }
    }

    fn last_seq(&mut self, seq: u64) {
        self.last_seq = seq;
    }
}
