//! What the admin UI's user search costs on a large directory:
//!
//! ```text
//! cargo bench --bench admin_search            # 1,000,000 users
//! cargo bench --bench admin_search -- 200000  # another size
//! ```
//!
//! Builds a directory of N users (`user-0000000@example.com`, ...) and times, over 20
//! runs each, the searches the Users page makes for one page of 50: no query (a page of
//! the directory), an exact userName (index hit, then a scan for substring matches that
//! stops once a page and one more are found or the directory ends), a common substring
//! (stops after 51 matches) and a substring nobody has (the worst case: a scan of every
//! user). Prints min / median / max in milliseconds.

use std::time::Instant;

use scimgate::admin::search;
use scimgate::directory::Directory;
use scimgate::record::{Snapshot, UserRecord};

fn directory(n: u32) -> Directory {
    let mut snap = Snapshot::default();
    snap.users.reserve(n as usize);
    for ord in 0..n {
        let name = format!("user-{ord:07}");
        snap.users.push(UserRecord {
            emails: vec![format!("{name}@example.com").into_boxed_str()].into(),
            external_id: Some(format!("ext-{ord}").into()),
            scim_managed: true,
            ..UserRecord::new(ord, format!("id-{ord}"), name)
        });
    }
    Directory::from_snapshot(snap)
}

fn time(label: &str, dir: &Directory, query: &str, page: usize) {
    let mut ms: Vec<f64> = Vec::new();
    let mut found = 0;
    for _ in 0..20 {
        let start = Instant::now();
        let p = search::users(dir, query, page, 50);
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
        found = p.ords.len();
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label:<38} {found:>3} shown   min {:>8.2} ms   median {:>8.2} ms   max {:>8.2} ms",
        ms[0], ms[10], ms[19]
    );
}

fn main() {
    let n: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let start = Instant::now();
    let dir = directory(n);
    println!(
        "directory of {} users built in {:.1} s",
        dir.user_count(),
        start.elapsed().as_secs_f64()
    );
    time("no query, page 1", &dir, "", 0);
    time("no query, last page", &dir, "", (n as usize - 1) / 50);
    time(
        "exact userName (then a full scan)",
        &dir,
        &format!("user-{:07}", n / 2),
        0,
    );
    time("common substring \"user-00\"", &dir, "user-00", 0);
    time("common substring, page 10", &dir, "user-00", 9);
    time("substring nobody has (full scan)", &dir, "nobody-here", 0);
}
