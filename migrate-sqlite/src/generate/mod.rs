//! `migrate new NAME [--from-schema FILE]`: writes the next migration of a set as a source file
//! next to the set's existing ones (found from the source locations `#[migration]` records),
//! with the next free seq, and adds its `mod` line to the parent module file. With a desired
//! schema, its body is generated from the difference (see `diff.rs`).

mod diff;
mod render;
mod schema;

use crate::{Error, Migration, Migrator, Result, registered};
use migrate_core::Origin;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The schema of a database in a canonical form, to compare schemas that differ only in
/// formatting: `(kind, lowercase name) -> CREATE statement` with keywords and names lowercased,
/// identifier quotes removed and whitespace collapsed (string literals are kept). What
/// `migrate new --from-schema` compares, and what its tests compare.
///
/// ```
/// use migrate_sqlite::generate::canonical_schema;
/// let a = rusqlite::Connection::open_in_memory()?;
/// a.execute_batch("CREATE TABLE \"Books\" (\n  id INTEGER PRIMARY KEY , title TEXT\n)")?;
/// let b = rusqlite::Connection::open_in_memory()?;
/// b.execute_batch("create table books(id integer primary key, title text)")?;
/// assert_eq!(canonical_schema(&a)?, canonical_schema(&b)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn canonical_schema(conn: &Connection) -> Result<BTreeMap<(String, String), String>> {
    schema::canonical_objects(conn)
}

/// What `migrate new` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    /// The new migration's file.
    file: PathBuf,
    /// The module file that got its `mod` line.
    module_file: PathBuf,
    /// Its seq.
    seq: u64,
    /// Its set.
    set: String,
    /// What it does, one line per change (empty for a skeleton).
    summary: Vec<String>,
}

impl Written {
    /// The JSON `migrate new --json` prints.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.file.display().to_string(),
            "module_file": self.module_file.display().to_string(),
            "seq": self.seq,
            "set": self.set,
            "summary": self.summary,
        })
    }
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote migration {} of set {:?}: {} (and added its `mod` line to {})",
            self.seq,
            self.set,
            self.file.display(),
            self.module_file.display()
        )?;
        for line in &self.summary {
            write!(f, "\n  {line}")?;
        }
        write!(
            f,
            "\nnext: build the app, then check it without touching the database (`migrate plan`)"
        )
    }
}

/// Writes migration `name` as the next of the migrator's set; with `from_schema`, its body is
/// generated from the difference between the schema the set builds and the one in that file.
/// `dir` overrides where it goes (default: beside the set's newest migration).
pub(crate) fn new_migration(
    migrator: &Migrator,
    name: &str,
    from_schema: Option<&Path>,
    dir: Option<&Path>,
) -> Result<Written> {
    check_name(name)?;
    let set = migrator.set.clone();
    let migrations: Vec<Migration> = match &migrator.migrations {
        Some(list) => list.clone(),
        None => registered(&set),
    };
    let seq = migrations.iter().map(|m| m.seq).max().unwrap_or(0) + 1;
    let newest = migrations
        .iter()
        .filter(|m| matches!(m.origin, Origin::Source { .. }))
        .max_by_key(|m| m.seq);
    let dir = match dir {
        Some(dir) => dir.to_owned(),
        None => {
            let Some(newest) = newest else {
                return Err(Error::Unsupported(format!(
                    "set {set:?} has no migration whose source file is known, so there is no \
                     place to put a new one; nothing was written. Say where: `migrate new \
                     {name} --dir src/migrations`"
                )));
            };
            source_dir(newest)?
        }
    };
    let width = numbering_width(newest);
    let stem = format!("m{seq:0width$}_{name}");
    let file = dir.join(format!("{stem}.rs"));
    if file.exists() {
        return Err(Error::Unsupported(format!(
            "{} already exists; nothing was written. Choose another name",
            file.display()
        )));
    }
    let module_file = module_file(&dir)?;
    let mut command = format!("migrate new {name}");
    fn source<'a>(seq: u64, name: &'a str, set: &'a str, command: &'a str) -> render::Source<'a> {
        render::Source {
            seq,
            name,
            set,
            command,
        }
    }
    let (text, summary) = match from_schema {
        None => (
            render::skeleton(&source(seq, name, &set, &command)),
            Vec::new(),
        ),
        Some(desired_file) => {
            command.push_str(&format!(
                " --from-schema {}",
                crate::outcome::shell_word(Path::new(
                    desired_file.file_name().unwrap_or(desired_file.as_os_str())
                ))
            ));
            let current = schema::migrated(migrator)?;
            let desired = schema::desired(desired_file)?;
            let changes = diff::between(&current, &desired)?;
            if changes.is_empty() {
                return Err(Error::Unsupported(format!(
                    "the schema in {} is already what the migrations of set {set:?} build; \
                     nothing was written",
                    desired_file.display()
                )));
            }
            (
                render::generated(&source(seq, name, &set, &command), &changes),
                changes.summary.clone(),
            )
        }
    };
    write_new(&file, &text)?;
    if let Err(e) = add_mod_line(&module_file, &stem) {
        let _ = std::fs::remove_file(&file);
        return Err(e);
    }
    Ok(Written {
        file,
        module_file,
        seq,
        set,
        summary,
    })
}

/// A migration name must be a plain Rust identifier (it names a fn and a file).
fn check_name(name: &str) -> Result<()> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Unsupported(format!(
            "{name:?} cannot name a migration: use lowercase letters, digits and `_`, starting \
             with a letter (e.g. `add_due_dates`); nothing was written"
        )))
    }
}

/// The directory of a migration's source file, found from the current directory or one of
/// its parents (`file!()` paths are relative to the workspace root).
fn source_dir(migration: &Migration) -> Result<PathBuf> {
    let Origin::Source { file, .. } = &migration.origin else {
        return Err(Error::Unsupported("no source file".into()));
    };
    let relative = Path::new(file);
    let cwd = std::env::current_dir().map_err(|source| Error::Io {
        doing: "cannot read the current directory".into(),
        path: PathBuf::from("."),
        error: source,
    })?;
    let found = if relative.is_absolute() {
        relative.is_file().then(|| relative.to_owned())
    } else {
        cwd.ancestors()
            .map(|dir| dir.join(relative))
            .find(|candidate| candidate.is_file())
    };
    match found.and_then(|f| f.parent().map(Path::to_owned)) {
        Some(dir) => Ok(dir),
        None => Err(Error::Unsupported(format!(
            "the source of migration {} ({file}) is not under {} or a directory above it; \
             nothing was written. Run this from the project, or say where the migrations are: \
             `migrate new NAME --dir DIR`",
            migration.label(),
            cwd.display()
        ))),
    }
}

/// The width of the seq in the newest migration's file name (`m0003_x.rs`: 4), default 4.
fn numbering_width(newest: Option<&Migration>) -> usize {
    let Some(Origin::Source { file, .. }) = newest.map(|m| &m.origin) else {
        return 4;
    };
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let digits = stem
        .strip_prefix('m')
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).count())
        .unwrap_or(0);
    if digits > 0 && stem[1 + digits..].starts_with('_') {
        digits
    } else {
        4
    }
}

/// The file that declares the modules of `dir`: `dir/mod.rs`, `dir.rs`, or a crate root in it.
fn module_file(dir: &Path) -> Result<PathBuf> {
    let sibling = dir.with_extension("rs");
    let candidates = [
        dir.join("mod.rs"),
        sibling,
        dir.join("lib.rs"),
        dir.join("main.rs"),
    ];
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or_else(|| {
            Error::Unsupported(format!(
                "no module file declares the migrations in {} (looked for {}); nothing was \
                 written",
                dir.display(),
                candidates
                    .iter()
                    .map(|c| c.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

fn write_new(file: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(|source| Error::Io {
            doing: "cannot create the migration file".into(),
            path: file.to_owned(),
            error: source,
        })?;
    out.write_all(text.as_bytes()).map_err(|source| Error::Io {
        doing: "cannot write the migration file".into(),
        path: file.to_owned(),
        error: source,
    })
}

/// Adds `mod stem;` after the last `mod x;` line (same visibility), or at the end.
fn add_mod_line(module_file: &Path, stem: &str) -> Result<()> {
    let io = |doing: &str| {
        let doing = doing.to_owned();
        move |source| Error::Io {
            doing,
            path: module_file.to_owned(),
            error: source,
        }
    };
    let text = std::fs::read_to_string(module_file).map_err(io("cannot read the module file"))?;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let is_mod_line = |line: &str| {
        let t = line.trim();
        t.ends_with(';')
            && (t.starts_with("mod ")
                || t.starts_with("pub mod ")
                || t.starts_with("pub(crate) mod "))
    };
    match lines.iter().rposition(|l| is_mod_line(l)) {
        Some(at) => {
            let prefix = &lines[at][..lines[at].find("mod ").unwrap_or(0)];
            let line = format!("{prefix}mod {stem};");
            lines.insert(at + 1, line);
        }
        None => lines.push(format!("mod {stem};")),
    }
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(module_file, out).map_err(io("cannot add the mod line to"))
}
