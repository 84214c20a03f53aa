//! A throwaway disk that can lose power: an ext4 filesystem in a sparse image file,
//! loop-mounted (this needs root and loop devices, which the test machines and CI
//! have; without them the test fails, it is not skipped).
//!
//! What a program writes sits in the kernel's page cache until it is synced (or the
//! kernel writes it back on its own, after tens of seconds); only then does it reach
//! the device, here the image file. [`Disk::power_cut`] copies the image while the
//! filesystem is still mounted, which is the device as a power cut would leave it:
//! synced writes in, unsynced ones lost. The old filesystem is then unmounted and the
//! copy mounted in its place, which replays its journal as after a reboot.
//!
//! Mount options keep the kernel from syncing on its own between the crash and the
//! copy: `commit=600` (no journal commit every 5 s) and `noauto_da_alloc` (closing a
//! truncated file, as the killed process's exit does, starts no writeback).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context};

/// The image's size (sparse: only what the filesystem uses takes space).
const SIZE: u64 = 256 << 20;
const MOUNT_OPTIONS: &str = "loop,commit=600,noauto_da_alloc";

pub struct Disk {
    image: PathBuf,
    /// Where the filesystem is mounted.
    pub mnt: PathBuf,
    mounted: bool,
    _tmp: tempfile::TempDir,
}

fn run(program: &str, args: &[&Path]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    ensure!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

impl Disk {
    /// Makes the filesystem and mounts it.
    pub fn new() -> anyhow::Result<Disk> {
        let tmp = tempfile::Builder::new()
            .prefix("scimgate-disk-")
            .tempdir()?;
        let image = tmp.path().join("disk.img");
        std::fs::File::create(&image)?.set_len(SIZE)?;
        run(
            "mkfs.ext4",
            &[Path::new("-q"), Path::new("-F"), image.as_path()],
        )?;
        let mnt = tmp.path().join("mnt");
        std::fs::create_dir(&mnt)?;
        let mut disk = Disk {
            image,
            mnt,
            mounted: false,
            _tmp: tmp,
        };
        disk.mount()?;
        Ok(disk)
    }

    fn mount(&mut self) -> anyhow::Result<()> {
        run(
            "mount",
            &[
                Path::new("-o"),
                Path::new(MOUNT_OPTIONS),
                self.image.as_path(),
                self.mnt.as_path(),
            ],
        )
        .context("mounting the test disk (needs root and loop devices)")?;
        self.mounted = true;
        Ok(())
    }

    fn unmount(&mut self) -> anyhow::Result<()> {
        if self.mounted {
            // The loop device goes with it (`mount -o loop` sets it to clear itself).
            run("umount", &[self.mnt.as_path()])?;
            self.mounted = false;
        }
        Ok(())
    }

    /// The power goes off and comes back: whatever was not on the device yet is lost.
    /// Nothing may be using the filesystem (the server is dead).
    pub fn power_cut(&mut self) -> anyhow::Result<()> {
        let cut = self.image.with_extension("cut");
        run(
            "cp",
            &[
                Path::new("--sparse=always"),
                self.image.as_path(),
                cut.as_path(),
            ],
        )?;
        self.unmount()?;
        std::fs::rename(&cut, &self.image)?;
        self.mount()
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if let Err(e) = self.unmount() {
            eprintln!("test disk: {e:#}");
        }
    }
}
