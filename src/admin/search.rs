//! Finding users and groups for the admin lists, a page at a time.
//!
//! Without a query, a page of the directory in creation order. With one, exact
//! matches first (userName, id, e-mail; displayName, id), then a case-insensitive
//! substring scan that walks the directory in chunks and stops as soon as it has the
//! page asked for plus one (to know whether there is a next page): the directory may
//! hold a million users, and nothing is ever collected or rendered whole.
//!
//! The callers run these functions on blocking threads. A substring scan also takes one
//! of [`MAX_CONCURRENT_SCANS`] process-wide slots (waiting on its own blocking thread
//! while all are taken) and stops after [`SCAN_BUDGET`] with what it has found
//! ([`Page::stopped`]), so searches never occupy more than a fixed share of the CPU.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::directory::Directory;

const CHUNK: usize = 4096;

/// Substring scans that may run at once in this process.
pub const MAX_CONCURRENT_SCANS: usize = 2;
/// How long one substring scan may run before it stops with partial results.
pub const SCAN_BUDGET: Duration = Duration::from_secs(5);

/// The scan slots: how many are taken, and a wake-up for those waiting.
static TAKEN: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// A taken scan slot, given back when dropped.
struct Slot;

impl Slot {
    /// Waits (on the caller's blocking thread) for a free slot.
    fn take() -> Slot {
        let mut taken = TAKEN.lock();
        while *taken >= MAX_CONCURRENT_SCANS {
            FREED.wait(&mut taken);
        }
        *taken += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *TAKEN.lock() -= 1;
        FREED.notify_one();
    }
}

/// One page of ords and whether more follow.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub ords: Vec<u32>,
    pub more: bool,
    /// The total, when known without a scan (no query).
    pub total: Option<usize>,
    /// The scan stopped at [`SCAN_BUDGET`]: these are the matches found until then
    /// (and `more` is set).
    pub stopped: bool,
}

/// Users matching `query` (empty: all), page `page` (from 0) of `size`.
pub fn users(dir: &Directory, query: &str, page: usize, size: usize) -> Page {
    let query = query.trim();
    if query.is_empty() {
        let (total, ords) = dir.user_page(page * size, size);
        return Page {
            more: (page + 1) * size < total,
            ords,
            total: Some(total),
            stopped: false,
        };
    }
    let mut exact: Vec<u32> = Vec::new();
    if let Some(u) = dir.user_by_name(query) {
        exact.push(u.ord);
    }
    if let Some(u) = dir.user_by_id(query) {
        exact.push(u.ord);
    }
    exact.extend(dir.users_by_email(query));
    let needle = crate::ident::caseless_key(query);
    scan(
        exact,
        page,
        size,
        |skip, take| dir.user_page(skip, take).1,
        |ord| {
            dir.user(ord).is_some_and(|u| {
                crate::ident::caseless_key(&u.user_name).contains(&needle)
                    || u.emails
                        .iter()
                        .any(|e| crate::ident::caseless_key(e).contains(&needle))
                    || u.external_id
                        .as_deref()
                        .is_some_and(|x| crate::ident::caseless_key(x).contains(&needle))
            })
        },
    )
}

/// Groups matching `query` (empty: all), page `page` of `size`.
pub fn groups(dir: &Directory, query: &str, page: usize, size: usize) -> Page {
    let query = query.trim();
    if query.is_empty() {
        let (total, ords) = dir.group_page(page * size, size);
        return Page {
            more: (page + 1) * size < total,
            ords,
            total: Some(total),
            stopped: false,
        };
    }
    let mut exact: Vec<u32> = Vec::new();
    if let Some(g) = dir.group_by_name(query) {
        exact.push(g.ord);
    }
    if let Some(g) = dir.group_by_id(query) {
        exact.push(g.ord);
    }
    let needle = crate::ident::caseless_key(query);
    scan(
        exact,
        page,
        size,
        |skip, take| dir.group_page(skip, take).1,
        |ord| {
            dir.group(ord)
                .is_some_and(|g| crate::ident::caseless_key(&g.display_name).contains(&needle))
        },
    )
}

/// Exact matches first, then scanned matches, skipping `page * size` and taking
/// `size`, stopping once one more than that is known (or at [`SCAN_BUDGET`]).
fn scan(
    exact: Vec<u32>,
    page: usize,
    size: usize,
    chunk_at: impl Fn(usize, usize) -> Vec<u32>,
    matches: impl Fn(u32) -> bool,
) -> Page {
    let _slot = Slot::take();
    scan_within(
        Instant::now() + SCAN_BUDGET,
        exact,
        page,
        size,
        chunk_at,
        matches,
    )
}

fn scan_within(
    deadline: Instant,
    mut exact: Vec<u32>,
    page: usize,
    size: usize,
    chunk_at: impl Fn(usize, usize) -> Vec<u32>,
    matches: impl Fn(u32) -> bool,
) -> Page {
    let mut seen: Vec<u32> = Vec::new();
    exact.retain(|o| {
        let new = !seen.contains(o);
        seen.push(*o);
        new
    });
    let want = (page + 1) * size + 1;
    let mut found = exact.clone();
    let mut offset = 0;
    let mut stopped = false;
    while found.len() < want {
        if Instant::now() >= deadline {
            stopped = true;
            break;
        }
        let chunk = chunk_at(offset, CHUNK);
        if chunk.is_empty() {
            break;
        }
        offset += chunk.len();
        for ord in chunk {
            if !exact.contains(&ord) && matches(ord) {
                found.push(ord);
                if found.len() >= want {
                    break;
                }
            }
        }
    }
    let more = stopped || found.len() > (page + 1) * size;
    let ords = found.into_iter().skip(page * size).take(size).collect();
    Page {
        ords,
        more,
        total: None,
        stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Directory, p: &Page) -> Vec<String> {
        p.ords
            .iter()
            .map(|o| dir.user(*o).unwrap().user_name.to_string())
            .collect()
    }

    #[test]
    fn pages_without_a_query_and_with_one() {
        let list: Vec<String> = (0..130).map(|i| format!("user{i:03}")).collect();
        let users: Vec<(&str, &[&str])> = list.iter().map(|n| (n.as_str(), &[][..])).collect();
        let dir = crate::admin::testing::directory(&users);
        let p = super::users(&dir, "", 2, 50);
        assert_eq!(p.total, Some(130));
        assert_eq!(p.ords.len(), 30);
        assert!(!p.more);
        assert!(super::users(&dir, "", 0, 50).more);

        // "user01" matches user010..user019 and the exact-free prefix; 10 results.
        let p = super::users(&dir, "USER01", 0, 4);
        assert_eq!(
            names(&dir, &p),
            vec!["user010", "user011", "user012", "user013"]
        );
        assert!(p.more);
        let p = super::users(&dir, "user01", 2, 4);
        assert_eq!(names(&dir, &p), vec!["user018", "user019"]);
        assert!(!p.more);

        // An exact userName comes first, once.
        let p = super::users(&dir, "user100", 0, 5);
        assert_eq!(names(&dir, &p), vec!["user100"]);
        // By e-mail.
        let p = super::users(&dir, "user005@example.com", 0, 5);
        assert_eq!(names(&dir, &p), vec!["user005"]);
        assert!(super::users(&dir, "nobody", 0, 5).ords.is_empty());
    }

    #[test]
    fn a_scan_past_its_budget_stops_with_what_it_found() {
        let list: Vec<String> = (0..10).map(|i| format!("user{i}")).collect();
        let users: Vec<(&str, &[&str])> = list.iter().map(|n| (n.as_str(), &[][..])).collect();
        let dir = crate::admin::testing::directory(&users);
        let past = Instant::now() - Duration::from_millis(1);
        let exact = dir.user_by_name("user3").map(|u| vec![u.ord]).unwrap();
        let p = scan_within(
            past,
            exact,
            0,
            5,
            |skip, take| dir.user_page(skip, take).1,
            |_| true,
        );
        assert!(p.stopped && p.more);
        assert_eq!(names(&dir, &p), vec!["user3"]);
        assert!(!super::users(&dir, "user", 0, 5).stopped);
    }

    #[test]
    fn scans_beyond_the_slot_limit_wait_for_a_slot() {
        let slots: Vec<Slot> = (0..MAX_CONCURRENT_SCANS).map(|_| Slot::take()).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _slot = Slot::take();
            tx.send(()).unwrap();
        });
        // Blocked while every slot is taken; runs once one is given back.
        assert!(rx.try_recv().is_err());
        drop(slots);
        rx.recv().unwrap();
        waiter.join().unwrap();
    }
}
