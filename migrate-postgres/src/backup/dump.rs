//! Running `pg_dump -Fc -Z1` into a file that already exists (created 0600 by the caller).

use super::progress::{self, ProgressStage, Reporter};
use super::tools::{Tools, connected};
use crate::{Error, Result};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Dumps the whole database into `out`; `snapshot` makes pg_dump read the state exported by
/// another transaction (`pg_export_snapshot()`) instead of taking its own. `progress` hears
/// the file's size while pg_dump runs, against `estimate` (0: unknown).
pub(crate) fn dump(
    tools: &Tools,
    config: &postgres::Config,
    out: &Path,
    snapshot: Option<&str>,
    lock_wait: Duration,
    (progress, estimate): (&Reporter, u64),
) -> Result<()> {
    let mut cmd = connected(&tools.pg_dump, config);
    // Level 1: about twice as fast as the default for ~5 % more bytes.
    cmd.args(["--format=custom", "--compress=1"])
        // pg_dump takes ACCESS SHARE on every table; never queue forever behind DDL.
        .arg(format!(
            "--lock-wait-timeout={}ms",
            lock_wait.as_millis().max(1)
        ))
        .arg("--file")
        .arg(out);
    if let Some(id) = snapshot {
        cmd.arg(format!("--snapshot={id}"));
    }
    log::info!("pg_dump into {}", out.display());
    let io = |doing| {
        let path = tools.pg_dump.clone();
        move |source| Error::BackupIo {
            doing,
            path,
            source,
        }
    };
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("cannot start pg_dump"))?;
    let stderr = super::restore::drain(child.stderr.take());
    let status = progress
        .watch(&mut child, ProgressStage::Dump, estimate, |_| {
            progress::file_size(out)
        })
        .map_err(io("cannot wait for pg_dump"))?;
    let stderr = stderr.join().unwrap_or_default();
    if status.success() {
        if let Some(size) = progress::file_size(out) {
            progress.report(ProgressStage::Dump, size, size);
        }
        return Ok(());
    }
    Err(Error::BackupTool {
        tool: "pg_dump",
        status: status.to_string(),
        stderr,
        dir: out.parent().map(Path::to_owned).unwrap_or_default(),
    })
}
