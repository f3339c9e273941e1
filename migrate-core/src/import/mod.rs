//! Importing another tool's migrations folder: one Rust migration file per upstream migration,
//! numbered by position, the SQL kept where it is and pulled in with `include_str!`.
//!
//! Reads diesel (`<version>_<name>/up.sql`, `down.sql`), sqlx (`<version>_<name>.sql`, or
//! `.up.sql` and `.down.sql`), refinery (`V<n>__<name>.sql`) and plain ordered `.sql` folders.
//! Each generated migration is named `<upstream version>_<name>` (plain folders: the file's
//! name), so adopting a database that tool migrated can match its tracking rows by version.
//! Needs no database.
//!
//! ```
//! use migrate_core::import::{Import, Layout};
//! let dir = tempfile::tempdir()?;
//! let source = dir.path().join("migrations");
//! std::fs::create_dir_all(source.join("2024-01-01-000000_create_users"))?;
//! std::fs::write(source.join("2024-01-01-000000_create_users/up.sql"), "CREATE TABLE users (id INTEGER);")?;
//! std::fs::write(source.join("2024-01-01-000000_create_users/down.sql"), "DROP TABLE users;")?;
//! let imported = Import::new(&source, dir.path().join("src/migrations")).generate()?;
//! assert_eq!(imported.layout, Layout::Diesel);
//! assert_eq!(imported.migrations[0].name(), "20240101000000_create_users");
//! let file = &imported.files[0];
//! assert!(file.path.ends_with("m0001_create_users.rs"));
//! assert!(file.contents.contains("\"../../migrations/2024-01-01-000000_create_users/up.sql\""));
//! imported.write(false)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod generate;
mod layout;
mod naming;
mod scan;

pub use layout::{Layout, SourceMigration};

use crate::Error;
use std::path::{Path, PathBuf};

/// What to import and how (builder); [`generate`](Import::generate) reads the folder.
#[derive(Clone, Debug)]
pub struct Import {
    source: PathBuf,
    out: PathBuf,
    layout: Option<Layout>,
    set: Option<String>,
    framework: String,
}

impl Import {
    /// Imports the folder `source` into Rust files in `out` (e.g. `src/migrations`).
    ///
    /// ```
    /// let _ = migrate_core::import::Import::new("migrations", "src/migrations");
    /// ```
    pub fn new(source: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        Import {
            source: source.into(),
            out: out.into(),
            layout: None,
            set: None,
            framework: "migrate_sqlite".to_owned(),
        }
    }

    /// Reads the folder as this layout instead of detecting it.
    ///
    /// ```
    /// use migrate_core::import::{Import, Layout};
    /// let _ = Import::new("migrations", "src/migrations").layout(Layout::Sqlx);
    /// ```
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = Some(layout);
        self
    }

    /// Puts the generated migrations in this set (`set = "..."`); default: the default set.
    ///
    /// ```
    /// let _ = migrate_core::import::Import::new("m", "src/m").set("billing");
    /// ```
    pub fn set(mut self, set: impl Into<String>) -> Self {
        self.set = Some(set.into()).filter(|s| s != crate::DEFAULT_SET);
        self
    }

    /// The crate the generated code imports `migration`, `Result` and `Tx` from (default
    /// `migrate_sqlite`).
    ///
    /// ```
    /// let _ = migrate_core::import::Import::new("m", "src/m").framework("my_migrate");
    /// ```
    pub fn framework(mut self, path: impl Into<String>) -> Self {
        self.framework = path.into();
        self
    }

    /// Reads the folder and produces the files, without writing anything.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("V1__init.sql"), "CREATE TABLE t (x);")?;
    /// let imported = migrate_core::import::Import::new(dir.path(), dir.path().join("out")).generate()?;
    /// assert_eq!(imported.files.len(), 2); // the migration and mod.rs
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generate(&self) -> Result<Imported, Error> {
        let (layout, migrations) = scan::scan(&self.source, self.layout)?;
        let files = generate::files(self, layout, &migrations)?;
        Ok(Imported {
            layout,
            migrations,
            files,
            source: self.source.clone(),
            out: self.out.clone(),
            set: self.set.clone(),
        })
    }
}

/// The result of an import: what was found, and the files to write.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The layout the folder was read as.
    pub layout: Layout,
    /// The upstream migrations, in order (position `i` becomes `seq = i + 1`).
    pub migrations: Vec<SourceMigration>,
    /// One file per migration, then `mod.rs`.
    pub files: Vec<GeneratedFile>,
    source: PathBuf,
    out: PathBuf,
    set: Option<String>,
}

/// One file to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Where.
    pub path: PathBuf,
    /// What.
    pub contents: String,
}

impl Imported {
    /// Writes the files, creating the directory. Refuses, before writing anything, when a file
    /// exists with other contents, unless `overwrite`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # std::fs::write(dir.path().join("V1__init.sql"), "CREATE TABLE t (x);")?;
    /// let imported = migrate_core::import::Import::new(dir.path(), dir.path().join("out")).generate()?;
    /// imported.write(false)?;
    /// imported.write(false)?; // the same contents again: fine
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, overwrite: bool) -> Result<(), Error> {
        if !overwrite {
            let differing: Vec<PathBuf> = self
                .files
                .iter()
                .filter(|f| std::fs::read_to_string(&f.path).is_ok_and(|old| old != f.contents))
                .map(|f| f.path.clone())
                .collect();
            if let Some(first) = differing.first() {
                return Err(Error::Import {
                    path: first.clone(),
                    reason: format!(
                        "{} file(s) already exist with other contents ({}); nothing was \
                         written. Move them away, or overwrite them (`{}`)",
                        differing.len(),
                        list_paths(&differing),
                        self.force_command()
                    ),
                });
            }
        }
        for file in &self.files {
            if let Some(dir) = file.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "cannot create", e))?;
            }
            std::fs::write(&file.path, &file.contents)
                .map_err(|e| io_error(&file.path, "cannot write", e))?;
        }
        Ok(())
    }
}

impl Imported {
    /// The command that redoes this import overwriting what differs: the same folder, output,
    /// layout (given or detected: detection may read the folder otherwise) and set, each path
    /// one shell word.
    fn force_command(&self) -> String {
        let set = self
            .set
            .as_deref()
            .map_or(String::new(), |set| format!("--set {} ", shell_word(set)));
        format!(
            "migrate {set}import {} --out {} --from {} --force",
            shell_word(&self.source.display().to_string()),
            shell_word(&self.out.display().to_string()),
            self.layout
        )
    }
}

/// `text` as one POSIX shell word: as it is when it holds only plain characters, else in single
/// quotes.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn io_error(path: &Path, doing: &str, e: std::io::Error) -> Error {
    Error::Import {
        path: path.to_owned(),
        reason: format!("{doing} it: {e}"),
    }
}
