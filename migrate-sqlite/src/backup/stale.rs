//! Removing the temp files of backups whose writer died (a SIGKILL, a power cut): each is named
//! `.<final name>.<pid>.tmp` and locked (`flock`) by its writer for as long as it writes. One is
//! stale when its lock is free and its process is gone; only those are removed, so a backup
//! being written by a live process, here or elsewhere, is never touched.

use super::naming;
use std::fs::{self, File, OpenOptions};
use std::path::Path;

/// Takes the writer's lock on a temp file it has just created.
pub fn lock_as_writer(file: &File) -> std::io::Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "the new temp file is locked by another process",
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Removes the stale temp files of database `stem`'s backups in `dir` (best effort: a file
/// that cannot be removed is logged and left).
pub fn remove_stale_temps(dir: &Path, stem: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = writer_pid(stem, &name) else {
            continue;
        };
        if process_alive(pid) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        // Still locked: some process (a child that inherited it) holds it; leave it.
        if file.try_lock().is_err() {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => log::warn!(
                "removed {}, left by a backup whose process {pid} died while writing it",
                path.display()
            ),
            Err(e) => log::warn!("cannot remove the stale temp file {}: {e}", path.display()),
        }
    }
}

/// The pid in a temp name made by [`naming::temp_name`] for one of `stem`'s backups.
fn writer_pid(stem: &str, name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (final_name, pid) = inner.rsplit_once('.')?;
    naming::parse(stem, final_name)?;
    pid.parse().ok()
}

/// Whether process `pid` exists. Where that cannot be told (no `/proc`), only this process is
/// known to be alive, and the lock alone decides.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    proc.join("self").exists() && proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_temp_names_of_this_stem_carry_a_pid() {
        let final_name = "app.db.20261122T104914.123Z.pre-up.db";
        let temp = format!(".{final_name}.4242.tmp");
        assert_eq!(super::writer_pid("app.db", &temp), Some(4242));
        assert_eq!(super::writer_pid("other.db", &temp), None);
        assert_eq!(super::writer_pid("app.db", final_name), None);
        assert_eq!(super::writer_pid("app.db", ".app.db.x.4242.tmp"), None);
    }
}
