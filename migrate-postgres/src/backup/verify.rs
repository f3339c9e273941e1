//! Reading a dump back completely. `pg_restore --list` only reads the table of contents at the
//! front and exits 0 on a truncated archive; `pg_restore -f /dev/null` reads and inflates every
//! block, so a truncated, corrupted or empty file fails.

use super::progress::{self, ProgressStage, Reporter};
use super::tools::Tools;
use crate::{Error, Result};
use std::path::Path;
use std::process::Stdio;

/// Checks that every block of the archive at `path` reads back; `progress` hears how far
/// pg_restore has read.
pub(crate) fn verify(tools: &Tools, path: &Path, progress: &Reporter) -> Result<()> {
    let io = |doing| {
        let tool = tools.pg_restore.clone();
        move |source| Error::BackupIo {
            doing,
            path: tool,
            source,
        }
    };
    let mut child = std::process::Command::new(&tools.pg_restore)
        .arg("--file=/dev/null")
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("cannot start pg_restore"))?;
    let stderr = super::restore::drain(child.stderr.take());
    let size = progress::file_size(path).unwrap_or(0);
    let status = progress
        .watch(&mut child, ProgressStage::Verify, size, |c| {
            progress::read_offset(c.id(), path)
        })
        .map_err(io("cannot wait for pg_restore"))?;
    let stderr = stderr.join().unwrap_or_default();
    if status.success() {
        progress.report(ProgressStage::Verify, size, size);
        return Ok(());
    }
    Err(Error::BackupDamaged {
        path: path.to_owned(),
        stderr,
    })
}

/// True when the archive's table of contents lists table `schema.table` (`pg_restore --list`
/// prints `<id>; <oid> <oid> TABLE <schema> <table> <owner>`).
pub(crate) fn lists_table(tools: &Tools, path: &Path, schema: &str, table: &str) -> Result<bool> {
    let output = std::process::Command::new(&tools.pg_restore)
        .arg("--list")
        .arg(path)
        .output()
        .map_err(|source| Error::BackupIo {
            doing: "cannot start pg_restore",
            path: tools.pg_restore.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::BackupDamaged {
            path: path.to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let toc = String::from_utf8_lossy(&output.stdout);
    Ok(toc.lines().filter(|l| !l.starts_with(';')).any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.windows(3).any(|w| w == ["TABLE", schema, table])
    }))
}
