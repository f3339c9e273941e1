//! The Rust source of imported migrations: one file per migration in the repository's
//! one-file-per-migration form (`fn` with `#[migration(seq = N, down = ...)]`), and `mod.rs`.

use super::{GeneratedFile, Import, Layout, SourceMigration, io_error};
use crate::Error;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

pub(crate) fn files(
    import: &Import,
    layout: Layout,
    migrations: &[SourceMigration],
) -> Result<Vec<GeneratedFile>, Error> {
    let out =
        std::path::absolute(&import.out).map_err(|e| io_error(&import.out, "cannot resolve", e))?;
    let width = migrations.len().to_string().len().max(4);
    let mut files = Vec::with_capacity(migrations.len() + 1);
    let mut mods = String::new();
    for (i, m) in migrations.iter().enumerate() {
        let module = format!(
            "m{:0width$}_{}",
            i + 1,
            super::naming::slug(&m.upstream_name)
        );
        let contents = migration_file(import, layout, &out, i as u64 + 1, m)?;
        files.push(GeneratedFile {
            path: import.out.join(format!("{module}.rs")),
            contents,
        });
        let _ = writeln!(mods, "mod {module};");
    }
    files.push(GeneratedFile {
        path: import.out.join("mod.rs"),
        contents: format!(
            "//! Migrations imported by `migrate import` from the {layout} folder `{}` (relative \
             to this one), one file each.\n//! Every file registers itself with `#[migration]`; nothing here lists \
             them.\n\n{mods}",
            slashed(&relative(&out, &import.source)?),
        ),
    });
    Ok(files)
}

fn migration_file(
    import: &Import,
    layout: Layout,
    out: &Path,
    seq: u64,
    m: &SourceMigration,
) -> Result<String, Error> {
    let ident = m.ident();
    let up = slashed(&relative(out, &m.up)?);
    let mut keys = format!("seq = {seq}, name = {:?}", m.name());
    if let Some(set) = &import.set {
        let _ = write!(keys, ", set = {set:?}");
    }
    if m.no_transaction {
        keys.push_str(", transaction = false");
    }
    let down_ident = format!("{ident}_down");
    if m.down.is_some() {
        let _ = write!(keys, ", down = {down_ident}");
    }
    let framework = &import.framework;
    let mut text = format!(
        "//! Imported by `migrate import` from {layout} migration `{origin}`.\n\
         \n\
         use {framework}::{{Result, Tx, migration}};\n\
         \n\
         /// {layout} `{origin}` (upstream version {version}).\n\
         #[migration({keys})]\n\
         pub fn {ident}(tx: &Tx) -> Result<()> {{\n\
         {call}\
         \x20   Ok(())\n\
         }}\n",
        call = execute_batch(&up),
        origin = m.origin,
        version = m.version,
    );
    if let Some(down) = &m.down {
        let down = slashed(&relative(out, down)?);
        let _ = write!(
            text,
            "\n\
             /// Reverts `{ident}`.\n\
             pub fn {down_ident}(tx: &Tx) -> Result<()> {{\n\
             {call}\
             \x20   Ok(())\n\
             }}\n",
            call = execute_batch(&down),
        );
    }
    Ok(text)
}

/// The statement that runs the file at `path`, laid out as rustfmt lays it out (so `cargo fmt`
/// leaves generated files alone): on one line while the call's argument fits rustfmt's
/// `fn_call_width` (60) and the line fits 100 columns.
fn execute_batch(path: &str) -> String {
    let line = format!("    tx.execute_batch(include_str!(\"{path}\"))?;\n");
    let argument = "include_str!(\"\")".len() + path.len();
    if argument <= 60 && line.len() <= 101 {
        line
    } else {
        format!("    tx.execute_batch(include_str!(\n        \"{path}\"\n    ))?;\n")
    }
}

/// The path of `to` relative to the directory `from` (both made absolute, not resolved through
/// symlinks: `include_str!` resolves the same way).
fn relative(from: &Path, to: &Path) -> Result<PathBuf, Error> {
    let to = std::path::absolute(to).map_err(|e| io_error(to, "cannot resolve", e))?;
    let from: Vec<Component> = normal(from);
    let to_parts: Vec<Component> = normal(&to);
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part.as_os_str());
    }
    Ok(out)
}

/// Components with `.` dropped and `..` applied, lexically.
fn normal(path: &Path) -> Vec<Component<'_>> {
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The path with `/` between components, as `include_str!` accepts on every platform; quotes
/// and backslashes escaped for a string literal.
fn slashed(path: &Path) -> String {
    let joined = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    joined.escape_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_out_of_the_generated_directory() {
        let rel = relative(
            Path::new("/a/b/src/m"),
            Path::new("/a/b/migrations/x/up.sql"),
        )
        .unwrap();
        assert_eq!(slashed(&rel), "../../migrations/x/up.sql");
        let rel = relative(Path::new("/a/./b/../b/src"), Path::new("/a/b/src/up.sql")).unwrap();
        assert_eq!(slashed(&rel), "up.sql");
    }
}
