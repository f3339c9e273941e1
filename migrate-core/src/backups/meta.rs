//! What a backup records beside itself, in `<backup file>.meta`: the exact database it was
//! taken from (the name or path, not the file-name-safe stem, which two databases may share
//! in an older naming) and, where the backend computes one, the SHA-256 of the finished file.
//! Listing, retention and restore check the source; restore and verification check the hash.
//! The file is small text, written before the backup is renamed to its final name (a backup
//! without one was written by an older version, or copied without it).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The first line of every metadata file.
const HEADER: &str = "migrate-backup-meta 1";

/// A backup's recorded source and checksum.
///
/// ```
/// use migrate_core::backups::BackupMeta;
/// let meta = BackupMeta { source: "app.x".into(), sha256: Some("ab".repeat(32)) };
/// assert_eq!(BackupMeta::parse(&meta.to_text()), Some(meta));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupMeta {
    /// The database the backup was taken from: a PostgreSQL database name, a SQLite file's
    /// absolute path.
    pub source: String,
    /// SHA-256 of the backup file as written and verified, lowercase hex.
    pub sha256: Option<String>,
}

impl BackupMeta {
    /// Where the metadata of `backup` is: `<backup>.meta` (never parsed as a backup).
    ///
    /// ```
    /// use migrate_core::backups::BackupMeta;
    /// let p = BackupMeta::path_for("/b/app.20261122T104914.123Z.manual.dump".as_ref());
    /// assert_eq!(p, std::path::Path::new("/b/app.20261122T104914.123Z.manual.dump.meta"));
    /// ```
    pub fn path_for(backup: &Path) -> PathBuf {
        let mut name = backup.as_os_str().to_owned();
        name.push(".meta");
        PathBuf::from(name)
    }

    /// The file's text: a header, then `source <escaped>` and `sha256 <hex>` lines.
    ///
    /// ```
    /// use migrate_core::backups::BackupMeta;
    /// let text = BackupMeta { source: "a\nb".into(), sha256: None }.to_text();
    /// assert!(text.contains("source a\\nb\n"));
    /// ```
    pub fn to_text(&self) -> String {
        let mut text = format!("{HEADER}\nsource {}\n", escape(&self.source));
        if let Some(hash) = &self.sha256 {
            text.push_str(&format!("sha256 {hash}\n"));
        }
        text
    }

    /// Reads text made by [`BackupMeta::to_text`]; `None` for anything else.
    ///
    /// ```
    /// assert_eq!(migrate_core::backups::BackupMeta::parse("hello"), None);
    /// ```
    pub fn parse(text: &str) -> Option<BackupMeta> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let (mut source, mut sha256) = (None, None);
        for line in lines {
            match line.split_once(' ') {
                Some(("source", value)) => source = Some(unescape(value)?),
                Some(("sha256", value)) if is_sha256(value) => sha256 = Some(value.to_owned()),
                _ => {}
            }
        }
        Some(BackupMeta {
            source: source?,
            sha256,
        })
    }

    /// Writes the metadata of `backup` (its final path): a hidden temp file (0600), fsynced,
    /// renamed to `<backup>.meta`. The caller fsyncs the directory with the backup's rename.
    ///
    /// ```
    /// use migrate_core::backups::BackupMeta;
    /// let dir = tempfile::tempdir()?;
    /// let backup = dir.path().join("app.20261122T104914.123Z.manual.dump");
    /// let meta = BackupMeta { source: "app".into(), sha256: None };
    /// meta.write_for(&backup)?;
    /// assert_eq!(BackupMeta::read_for(&backup)?, Some(meta));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_for(&self, backup: &Path) -> io::Result<()> {
        let path = Self::path_for(backup);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = path.with_file_name(super::temp_name(&name));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let written = options.open(&temp).and_then(|mut f| {
            f.write_all(self.to_text().as_bytes())?;
            f.sync_all()
        });
        let renamed = written.and_then(|()| fs::rename(&temp, &path));
        if renamed.is_err() {
            let _ = fs::remove_file(&temp);
        }
        renamed
    }

    /// The metadata of `backup`: `None` when it has none (an older version wrote it), an
    /// error when it cannot be read or is not metadata.
    ///
    /// ```
    /// let none = migrate_core::backups::BackupMeta::read_for("/nonexistent/x.dump".as_ref())?;
    /// assert_eq!(none, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_for(backup: &Path) -> io::Result<Option<BackupMeta>> {
        let path = Self::path_for(backup);
        match fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map(Some).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a backup's metadata", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes the metadata of `backup`, if any (with the backup it describes).
    ///
    /// ```
    /// migrate_core::backups::BackupMeta::remove_for("/nonexistent/x.dump".as_ref())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remove_for(backup: &Path) -> io::Result<()> {
        match fs::remove_file(Self::path_for(backup)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Whether the backup at `path` belongs to `source`: its metadata names it, or it has none
/// (written before backups recorded their source: the name is all there is to go by). A
/// metadata file that cannot be read counts as another's (never pruned or chosen by mistake).
///
/// ```
/// use migrate_core::backups::{BackupMeta, belongs_to};
/// let dir = tempfile::tempdir()?;
/// let backup = dir.path().join("app_x.20261122T104914.123Z.manual.dump");
/// assert!(belongs_to(&backup, "app.x"), "no metadata: an older backup, by its name");
/// BackupMeta { source: "app_x".into(), sha256: None }.write_for(&backup)?;
/// assert!(!belongs_to(&backup, "app.x"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn belongs_to(path: &Path, source: &str) -> bool {
    match BackupMeta::read_for(path) {
        Ok(Some(meta)) => meta.source == source,
        Ok(None) => true,
        Err(e) => {
            log::warn!("{e}: not counted as a backup of {source:?}");
            false
        }
    }
}

fn is_sha256(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `\` and line breaks escaped, so any name fits on one line.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn unescape(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_source_round_trips_and_junk_is_refused() {
        for source in ["app", "a b.c", "x\\y\nz\r", "", "ünï"] {
            let meta = BackupMeta {
                source: source.into(),
                sha256: Some("0".repeat(64)),
            };
            assert_eq!(BackupMeta::parse(&meta.to_text()), Some(meta));
        }
        assert_eq!(BackupMeta::parse(""), None);
        assert_eq!(BackupMeta::parse(&format!("{HEADER}\n")), None);
        let bad_hash = format!("{HEADER}\nsource a\nsha256 xyz\n");
        assert_eq!(BackupMeta::parse(&bad_hash).unwrap().sha256, None);
    }
}
