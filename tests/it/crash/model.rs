//! What the writers know: every write the server acknowledged, plus what was in flight
//! at the last crash, checked against what the restarted server shows and then settled
//! from it.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use anyhow::{anyhow, bail, ensure};

use super::listing::Listing;

/// What a user's `active` flag must be after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Active {
    Is(bool),
    /// A deactivation was in flight at the crash.
    Either,
}

#[derive(Debug, Clone)]
pub struct UserModel {
    pub user_name: String,
    pub active: Active,
}

#[derive(Debug, Clone, Default)]
pub struct GroupModel {
    pub name: String,
    /// Members whose addition was acknowledged.
    pub must: BTreeSet<String>,
    /// Members whose addition was in flight at the crash.
    pub may: BTreeSet<String>,
}

/// Everything acknowledged so far, plus what was in flight at the last crash.
#[derive(Debug, Default)]
pub struct Model {
    pub users: BTreeMap<String, UserModel>,
    /// Creates in flight at the crash (lower-cased userName).
    maybe_created: HashSet<String>,
    /// Acknowledged creates whose response body (with the id) was cut off.
    created_no_id: HashSet<String>,
    pub groups: BTreeMap<String, GroupModel>,
    /// Group ids in creation order.
    pub group_order: Vec<String>,
}

/// One writer's record of a cycle.
#[derive(Debug)]
pub enum Event {
    Created {
        id: Option<String>,
        user_name: String,
    },
    CreateInFlight {
        user_name: String,
    },
    Deactivated {
        id: String,
        acked: bool,
    },
    Added {
        group: String,
        user: String,
        acked: bool,
    },
}

impl Event {
    /// Whether the write was in flight at the crash (may or may not have happened).
    pub fn in_flight(&self) -> bool {
        matches!(
            self,
            Event::CreateInFlight { .. }
                | Event::Deactivated { acked: false, .. }
                | Event::Added { acked: false, .. }
        )
    }
}

impl Model {
    pub fn add_group(&mut self, id: String, name: String) {
        self.group_order.push(id.clone());
        self.groups.insert(
            id,
            GroupModel {
                name,
                ..GroupModel::default()
            },
        );
    }

    pub fn apply(&mut self, events: Vec<Event>) -> anyhow::Result<()> {
        for e in events {
            match e {
                Event::Created {
                    id: Some(id),
                    user_name,
                } => {
                    let prev = self.users.insert(
                        id.clone(),
                        UserModel {
                            user_name,
                            active: Active::Is(true),
                        },
                    );
                    ensure!(prev.is_none(), "the server handed out id {id} twice");
                }
                Event::Created {
                    id: None,
                    user_name,
                } => {
                    self.created_no_id.insert(user_name.to_lowercase());
                }
                Event::CreateInFlight { user_name } => {
                    self.maybe_created.insert(user_name.to_lowercase());
                }
                Event::Deactivated { id, acked } => {
                    let u = self
                        .users
                        .get_mut(&id)
                        .ok_or_else(|| anyhow!("deactivated unknown user {id}"))?;
                    if acked {
                        u.active = Active::Is(false);
                    } else if u.active != Active::Is(false) {
                        u.active = Active::Either;
                    }
                }
                Event::Added { group, user, acked } => {
                    let g = self
                        .groups
                        .get_mut(&group)
                        .ok_or_else(|| anyhow!("added to unknown group {group}"))?;
                    if acked {
                        g.may.remove(&user);
                        g.must.insert(user);
                    } else if !g.must.contains(&user) {
                        g.may.insert(user);
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks the restarted server against what was acknowledged, then settles what was
    /// in flight from what the server shows.
    pub fn check_and_settle(&mut self, seen: &Listing) -> anyhow::Result<()> {
        // Users the writers know must be there, as acknowledged.
        for (id, u) in &self.users {
            let s = seen
                .users
                .get(id)
                .ok_or_else(|| anyhow!("acknowledged user {id} ({}) is missing", u.user_name))?;
            ensure!(
                s.user_name == u.user_name,
                "user {id}: userName {:?}, acknowledged {:?}",
                s.user_name,
                u.user_name
            );
            if let Active::Is(a) = u.active {
                ensure!(
                    s.active == a,
                    "user {id} ({}): active={}, acknowledged active={a}",
                    u.user_name,
                    s.active
                );
            }
        }
        // Every other user must come from a create that was acknowledged without its
        // id, or was in flight.
        let mut adopted = Vec::new();
        for (id, s) in &seen.users {
            if self.users.contains_key(id) {
                continue;
            }
            let key = s.user_name.to_lowercase();
            ensure!(
                self.created_no_id.remove(&key) || self.maybe_created.remove(&key),
                "user {id} ({}) exists but no writer created it",
                s.user_name
            );
            ensure!(s.active, "user {id} was created active but is inactive");
            adopted.push((id.clone(), s.user_name.clone()));
        }
        if let Some(name) = self.created_no_id.iter().next() {
            bail!("acknowledged create of {name:?} is missing");
        }
        self.maybe_created.clear();
        for (id, user_name) in adopted {
            self.users.insert(
                id,
                UserModel {
                    user_name,
                    active: Active::Is(true),
                },
            );
        }
        for (id, u) in self.users.iter_mut() {
            u.active = Active::Is(seen.users[id].active);
        }
        // Groups: acknowledged members present; nothing beyond what was asked.
        ensure!(
            seen.groups.len() == self.groups.len(),
            "{} groups listed, {} created",
            seen.groups.len(),
            self.groups.len()
        );
        for (id, g) in self.groups.iter_mut() {
            let s = seen
                .groups
                .get(id)
                .ok_or_else(|| anyhow!("group {id} ({}) is missing", g.name))?;
            ensure!(s.name == g.name, "group {id}: displayName {:?}", s.name);
            if let Some(lost) = g.must.difference(&s.members).next() {
                bail!("group {}: acknowledged member {lost} is missing", g.name);
            }
            if let Some(extra) = s
                .members
                .iter()
                .find(|m| !g.must.contains(*m) && !g.may.contains(*m))
            {
                bail!("group {}: member {extra} was never added", g.name);
            }
            g.must = s.members.clone();
            g.may.clear();
        }
        Ok(())
    }
}
