//! Building the directory at start from the store's rows as they stream in
//! ([`SnapshotSink`]), so that no list of every record is held beside the directory.
//!
//! Each row goes straight into its place: the records into their slots and key indexes
//! (sized beforehand from the highest ords), the name orders collected and sorted once
//! at the end instead of inserted one by one, and each user's direct groups built in
//! one piece when the store hands a user's memberships together (any order is handled).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::index::NameOrder;
use super::{Directory, MemberSet};
use crate::record::{name_key, GroupRecord, Member, SnapshotSink, UserRecord};

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
