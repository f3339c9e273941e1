//! The layouts `migrate import` reads, and one upstream migration as found in a folder.

use super::naming;
use crate::Error;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// How a migrations folder is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// diesel: a directory per migration, `<version>_<name>/up.sql` and `down.sql`; the version
    /// is the digits before the first `_` (`2018-01-01-000000` -> `20180101000000`).
    Diesel,
    /// sqlx: `<version>_<description>.sql`, or `.up.sql` and `.down.sql` for reversible ones.
    Sqlx,
    /// refinery: `V<version>__<name>.sql`.
    Refinery,
    /// Any other folder of `.sql` files, applied in file name order.
    Plain,
}

impl Layout {
    /// The name used on the command line (`--from diesel`).
    ///
    /// ```
    /// assert_eq!(migrate_core::import::Layout::Sqlx.name(), "sqlx");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Layout::Diesel => "diesel",
            Layout::Sqlx => "sqlx",
            Layout::Refinery => "refinery",
            Layout::Plain => "plain",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [
            Layout::Diesel,
            Layout::Sqlx,
            Layout::Refinery,
            Layout::Plain,
        ]
        .into_iter()
        .find(|l| l.name() == s)
        .ok_or_else(|| format!("unknown layout {s:?}: expected diesel, sqlx, refinery or plain"))
    }
}

/// One upstream migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceMigration {
    /// The version the upstream tool records for it (diesel: `20180101000000`; sqlx, refinery:
    /// the number); plain folders: the position, from 1.
    pub version: String,
    /// The upstream name (`create_users`), or the file name without `.sql` in a plain folder.
    pub upstream_name: String,
    /// The file or directory it came from, as named in the folder.
    pub origin: String,
    /// Its SQL file.
    pub up: PathBuf,
    /// Its down SQL file, when it has one holding a statement.
    pub down: Option<PathBuf>,
    /// sqlx's `-- no-transaction` first line, or diesel's `run_in_transaction = false` in
    /// `metadata.toml`: runs outside a transaction.
    pub no_transaction: bool,
    pub(crate) layout: Layout,
}

impl SourceMigration {
    /// The migration's name in the framework: `<version>_<name>` (a plain folder's file name
    /// as it is), from which adopting a database reads the upstream version back.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("V3__add_email.sql"), "ALTER TABLE t ADD COLUMN e;")?;
    /// let (_, found) = migrate_core::import::Layout::Refinery.scan(dir.path())?;
    /// assert_eq!(found[0].name(), "3_add_email");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> String {
        match self.layout {
            Layout::Plain => self.upstream_name.clone(),
            _ => format!("{}_{}", self.version, self.upstream_name),
        }
    }

    /// The Rust identifier of its `fn`.
    pub(crate) fn ident(&self) -> String {
        naming::ident(&self.upstream_name)
    }
}

impl Layout {
    /// Reads `dir` as this layout.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("20240101_init.sql"), "CREATE TABLE t (x);")?;
    /// let (layout, found) = migrate_core::import::Layout::Sqlx.scan(dir.path())?;
    /// assert_eq!((layout, found[0].version.as_str()), (migrate_core::import::Layout::Sqlx, "20240101"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan(self, dir: &Path) -> Result<(Layout, Vec<SourceMigration>), Error> {
        super::scan::scan(dir, Some(self))
    }
}
