//! Reloading keeps the last good set; watching picks up changes.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::PolicyHandle;
use crate::clock::Clock;

fn route(name: &str) -> String {
    format!("routes:\n  - name: {name}\n    upstream: http://127.0.0.1:1\n    allow: [{{ everyone: true }}]\n")
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

struct FixedClock(i64);

impl Clock for FixedClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(self.0).unwrap()
    }
}

#[test]
fn reload_keeps_the_last_good_set_and_bumps_the_generation_on_change() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &route("first"));
    let handle =
        PolicyHandle::load_with_clock(dir.path().to_owned(), Arc::new(FixedClock(1_700_000_000)))
            .unwrap();
    let mut generations = handle.subscribe();
    let first = handle.current();
    let status = handle.status();
    assert_eq!(status.generation, 0);
    assert_eq!(status.digest, first.digest());
    assert_eq!(status.last_success_ms, 1_700_000_000_000);
    assert!(status.last_error.is_none());

    write(
        dir.path(),
        "a.yaml",
        "routes:\n  - name: first\n    upstream: ftp://x\n",
    );
    let e = handle.reload().unwrap_err();
    assert!(e.to_string().contains("a.yaml:3:15: upstream"), "{e}");
    assert_eq!(handle.current().digest(), first.digest());
    assert!(handle.current().route("first").is_some());
    let status = handle.status();
    assert_eq!(status.generation, 0);
    assert_eq!(status.last_error.as_deref(), Some(e.to_string().as_str()));
    assert!(!generations.has_changed().unwrap());

    write(dir.path(), "a.yaml", &route("second"));
    handle.reload().unwrap();
    assert!(handle.current().route("second").is_some());
    assert!(handle.current().route("first").is_none());
    let status = handle.status();
    assert_eq!(status.generation, 1);
    assert!(status.last_error.is_none());
    assert_eq!(status.digest, handle.current().digest());
    assert!(generations.has_changed().unwrap());
    assert_eq!(*generations.borrow_and_update(), 1);

    // An unchanged directory reloads without a new generation.
    handle.reload().unwrap();
    assert_eq!(handle.status().generation, 1);
    assert!(!generations.has_changed().unwrap());
}

#[test]
fn the_first_load_must_succeed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "routes: [");
    assert!(PolicyHandle::load(dir.path().to_owned()).is_err());
    assert!(PolicyHandle::load(dir.path().join("missing")).is_err());
}

#[test]
fn watch_picks_up_a_file_change() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &route("before"));
    let handle = PolicyHandle::load(dir.path().to_owned()).unwrap();
    let guard = handle.watch().unwrap();
    write(dir.path(), "a.yaml", &route("after"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while handle.current().route("after").is_none() {
        assert!(
            Instant::now() < deadline,
            "the change was not picked up within 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(handle.status().generation, 1);
    // A bad edit is refused and recorded; the good set stays.
    write(dir.path(), "b.yaml", "routes: [");
    let deadline = Instant::now() + Duration::from_secs(5);
    while handle.status().last_error.is_none() {
        assert!(
            Instant::now() < deadline,
            "the bad file was not noticed within 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(handle.current().route("after").is_some());
    drop(guard);
}
