//! The SHA-256 of a dump, recorded beside it (`<dump>.meta`, `migrate_core::backups::BackupMeta`)
//! once it was written and read back, and checked before any restore and by `verify`. It
//! catches what `pg_restore -f /dev/null` does not: bytes overwritten inside the SQL text of a
//! dump (a damaged disk, a bad copy) read back fine and fail only at replay. SHA-256 from the
//! `sha2` crate, already in the dependency tree (tokio-postgres' SCRAM authentication).

use crate::{Error, Result};
use migrate_core::backups::BackupMeta;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// What a backup's recorded checksum says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Integrity {
    /// Its bytes are the ones written and verified.
    Intact,
    /// No checksum is recorded (written by an older version, or copied without its `.meta`):
    /// only reading it back can tell.
    Unrecorded,
    /// Its bytes changed since it was written.
    Damaged {
        /// The SHA-256 recorded when it was written.
        expected: String,
        /// Its SHA-256 now.
        found: String,
    },
}

/// The SHA-256 of the file at `path`, lowercase hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| Error::BackupIo {
        doing: "cannot read the backup to compute its checksum",
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Compares the file at `path` with the checksum recorded beside it.
pub(crate) fn integrity(path: &Path) -> Result<Integrity> {
    let meta = BackupMeta::read_for(path).map_err(|source| Error::BackupIo {
        doing: "cannot read the backup's metadata",
        path: BackupMeta::path_for(path),
        source,
    })?;
    let Some(expected) = meta.and_then(|m| m.sha256) else {
        return Ok(Integrity::Unrecorded);
    };
    let found = sha256_file(path)?;
    Ok(if found == expected {
        Integrity::Intact
    } else {
        Integrity::Damaged { expected, found }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sha256_of_a_file_is_the_known_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            super::sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
