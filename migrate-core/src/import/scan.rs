//! Reading a migrations folder: which layout it has, and its migrations in order.

use super::layout::{Layout, SourceMigration};
use super::{io_error, naming};
use crate::Error;
use std::path::{Path, PathBuf};

/// Entries of `dir`: (name, is_dir), sorted by name.
fn entries(dir: &Path) -> Result<Vec<(String, bool)>, Error> {
    let read = std::fs::read_dir(dir).map_err(|e| io_error(dir, "cannot read the folder", e))?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| io_error(dir, "cannot read the folder", e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            // Hidden entries (.git, .keep, editor files) are no migrations, as for diesel.
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        out.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
    }
    out.sort();
    Ok(out)
}

/// Reads the folder in `layout`, or in the layout its contents show.
pub(crate) fn scan(
    dir: &Path,
    layout: Option<Layout>,
) -> Result<(Layout, Vec<SourceMigration>), Error> {
    let entries = entries(dir)?;
    let layout = match layout {
        Some(layout) => layout,
        None => detect(dir, &entries)?,
    };
    let mut found = match layout {
        Layout::Diesel => diesel(dir, &entries)?,
        Layout::Sqlx => sqlx(dir, &entries)?,
        Layout::Refinery => refinery(dir, &entries)?,
        Layout::Plain => plain(dir, &entries)?,
    };
    if found.is_empty() {
        return Err(Error::Import {
            path: dir.to_owned(),
            reason: format!("no {layout} migration in it"),
        });
    }
    if layout == Layout::Diesel {
        // diesel orders by the version text.
        found.sort_by(|a, b| a.version.cmp(&b.version));
    } else {
        // sqlx and refinery order by the number; a plain folder's position is its version.
        found.sort_by_key(|m| m.version.parse::<u128>().unwrap_or(u128::MAX));
    }
    for pair in found.windows(2) {
        if pair[0].version == pair[1].version && layout != Layout::Plain {
            return Err(Error::Import {
                path: dir.to_owned(),
                reason: format!(
                    "{} and {} have the same version {}; {layout} would refuse them too",
                    pair[0].origin, pair[1].origin, pair[0].version
                ),
            });
        }
    }
    for m in &mut found {
        m.layout = layout;
    }
    Ok((layout, found))
}

fn detect(dir: &Path, entries: &[(String, bool)]) -> Result<Layout, Error> {
    let sql_files = || entries.iter().filter(|(n, d)| !d && n.ends_with(".sql"));
    if entries
        .iter()
        .any(|(n, d)| *d && dir.join(n).join("up.sql").is_file())
    {
        Ok(Layout::Diesel)
    } else if sql_files().any(|(n, _)| refinery_parts(n).is_some()) {
        Ok(Layout::Refinery)
    } else if sql_files().any(|(n, _)| sqlx_parts(n).is_some()) {
        Ok(Layout::Sqlx)
    } else if sql_files().next().is_some() {
        Ok(Layout::Plain)
    } else {
        Err(Error::Import {
            path: dir.to_owned(),
            reason: "no migration found in it: expected diesel directories with up.sql, or \
                     .sql files (sqlx, refinery or plain)"
                .into(),
        })
    }
}

fn unexpected(dir: &Path, name: &str, layout: Layout, expected: &str) -> Error {
    Error::Import {
        path: dir.join(name),
        reason: format!(
            "it does not fit the {layout} layout ({expected}); rename or move it, so that no \
             migration is left out silently"
        ),
    }
}

fn migration(version: String, name: &str, origin: &str, up: PathBuf) -> SourceMigration {
    SourceMigration {
        version,
        upstream_name: name.to_owned(),
        origin: origin.to_owned(),
        up,
        down: None,
        no_transaction: false,
        layout: Layout::Plain,
    }
}

/// The down file, when it exists and holds a statement.
fn down_if_any(path: PathBuf) -> Result<Option<PathBuf>, Error> {
    if !path.is_file() {
        return Ok(None);
    }
    let sql = std::fs::read_to_string(&path).map_err(|e| io_error(&path, "cannot read", e))?;
    Ok(naming::has_statements(&sql).then_some(path))
}

fn diesel(dir: &Path, entries: &[(String, bool)]) -> Result<Vec<SourceMigration>, Error> {
    let mut found = Vec::new();
    for (name, is_dir) in entries {
        if !is_dir {
            // diesel keeps only directories here; a stray file (a README) is not a migration.
            continue;
        }
        let up = dir.join(name).join("up.sql");
        let parts = name.split_once('_');
        let version = parts.map(|(v, _)| v.replace('-', ""));
        match (parts, version) {
            (Some((_, rest)), Some(v)) if up.is_file() && v.chars().all(|c| c.is_ascii_digit()) => {
                let mut m = migration(v, rest, name, up);
                m.down = down_if_any(dir.join(name).join("down.sql"))?;
                m.no_transaction = diesel_outside_transaction(&dir.join(name))?;
                found.push(m);
            }
            _ => {
                return Err(unexpected(
                    dir,
                    name,
                    Layout::Diesel,
                    "a directory <version>_<name> holding up.sql",
                ));
            }
        }
    }
    Ok(found)
}

/// diesel's `metadata.toml` with `run_in_transaction = false`.
fn diesel_outside_transaction(migration_dir: &Path) -> Result<bool, Error> {
    let path = migration_dir.join("metadata.toml");
    if !path.is_file() {
        return Ok(false);
    }
    let toml = std::fs::read_to_string(&path).map_err(|e| io_error(&path, "cannot read", e))?;
    Ok(toml.lines().any(|line| {
        let line = line.split('#').next().unwrap_or("").replace(' ', "");
        line == "run_in_transaction=false"
    }))
}

/// `20240101_create_users.up.sql` -> (version, name, kind: "", "up" or "down").
fn sqlx_parts(file: &str) -> Option<(&str, &str, &str)> {
    let stem = file.strip_suffix(".sql")?;
    let (stem, kind) = match stem.rsplit_once('.') {
        Some((s, k)) if k == "up" || k == "down" => (s, k),
        _ => (stem, ""),
    };
    let (version, name) = stem.split_once('_')?;
    (!version.is_empty() && version.chars().all(|c| c.is_ascii_digit()) && !name.is_empty())
        .then_some((version, name, kind))
}

fn sqlx(dir: &Path, entries: &[(String, bool)]) -> Result<Vec<SourceMigration>, Error> {
    let mut found: Vec<SourceMigration> = Vec::new();
    for (file, is_dir) in entries.iter().filter(|(n, _)| n.ends_with(".sql")) {
        let Some((version, name, kind)) = sqlx_parts(file).filter(|_| !is_dir) else {
            return Err(unexpected(
                dir,
                file,
                Layout::Sqlx,
                "<version>_<description>.sql, .up.sql or .down.sql",
            ));
        };
        let version = trim_zeros(version);
        match kind {
            "down" => {}
            _ => {
                let up = dir.join(file);
                let sql =
                    std::fs::read_to_string(&up).map_err(|e| io_error(&up, "cannot read", e))?;
                let mut m = migration(version.clone(), name, file, up);
                m.no_transaction = sql.trim_start().starts_with("-- no-transaction");
                if kind == "up" {
                    m.down =
                        down_if_any(dir.join(format!("{}.down.sql", &file[..file.len() - 7])))?;
                }
                found.push(m);
            }
        }
        if kind == "down" && !dir.join(file.replace(".down.sql", ".up.sql")).is_file() {
            return Err(Error::Import {
                path: dir.join(file),
                reason: "a down migration without its .up.sql; add the up file or remove it".into(),
            });
        }
    }
    Ok(found)
}

/// `V12__add_email.sql` -> (12, add_email).
fn refinery_parts(file: &str) -> Option<(&str, &str)> {
    let (version, name) = file
        .strip_prefix('V')?
        .strip_suffix(".sql")?
        .split_once("__")?;
    (!version.is_empty() && version.chars().all(|c| c.is_ascii_digit()) && !name.is_empty())
        .then_some((version, name))
}

fn refinery(dir: &Path, entries: &[(String, bool)]) -> Result<Vec<SourceMigration>, Error> {
    if let Some((file, _)) = entries.iter().find(|(n, d)| !d && n.ends_with(".rs")) {
        return Err(Error::Import {
            path: dir.join(file),
            reason: "a refinery migration written in Rust cannot be imported as SQL; port it \
                     by hand into a #[migration] fn (keep its place in the order), or move it \
                     out of the folder and import the rest"
                .into(),
        });
    }
    let mut found = Vec::new();
    for (file, is_dir) in entries.iter().filter(|(n, _)| n.ends_with(".sql")) {
        match refinery_parts(file).filter(|_| !is_dir) {
            Some((version, name)) => {
                found.push(migration(trim_zeros(version), name, file, dir.join(file)))
            }
            None => {
                return Err(unexpected(
                    dir,
                    file,
                    Layout::Refinery,
                    "V<version>__<name>.sql; unversioned U files are not supported",
                ));
            }
        }
    }
    Ok(found)
}

fn plain(dir: &Path, entries: &[(String, bool)]) -> Result<Vec<SourceMigration>, Error> {
    Ok(entries
        .iter()
        .filter(|(n, d)| !d && n.ends_with(".sql"))
        .enumerate()
        .map(|(i, (file, _))| {
            let stem = &file[..file.len() - 4];
            migration((i + 1).to_string(), stem, file, dir.join(file))
        })
        .collect())
}

/// `0003` -> `3`: sqlx and refinery store the version as a number.
fn trim_zeros(version: &str) -> String {
    let trimmed = version.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }.to_owned()
}
