//! Replaying a dump over the live database in ONE transaction: every user schema is dropped
//! with CASCADE (so objects a failed migration created go too, which `pg_restore --clean` never
//! drops), `public` is recreated as `initdb` makes it (pg_dump assumes it exists and never
//! creates it), and the archive is replayed with ON_ERROR_STOP:
//! `pg_restore -f - <dump> | psql -1 -v ON_ERROR_STOP=1 -c <drops> -f -`.
//!
//! psql commits only when its input ends, so the pipe is relayed here: when pg_restore fails
//! half-way, psql is killed before it sees the end, and the server rolls everything back.

use super::progress::{ProgressStage, Reporter};
use super::tools::{Tools, connected};
use crate::Result;
use crate::connection::quote_ident;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the restore transaction drops and recreates before the replay.
pub(crate) struct Preamble<'a> {
    /// The user schemas of the live database.
    pub(crate) live_schemas: &'a [String],
    /// The server's major version (`public` is owned by `pg_database_owner` from 15 on).
    pub(crate) server_major: u32,
    /// The bootstrap superuser, `public`'s owner before 15.
    pub(crate) bootstrap_role: &'a str,
    /// How long each DROP may wait for a table lock another session holds.
    pub(crate) lock_timeout: Duration,
}

impl Preamble<'_> {
    fn sql(&self) -> String {
        let mut sql = format!(
            "SET lock_timeout = '{}ms'; SET client_min_messages = warning;\n",
            self.lock_timeout.as_millis().max(1)
        );
        if !self.live_schemas.is_empty() {
            let names: Vec<String> = self.live_schemas.iter().map(|s| quote_ident(s)).collect();
            sql.push_str(&format!("DROP SCHEMA {} CASCADE;\n", names.join(", ")));
        }
        if self.server_major >= 15 {
            sql.push_str(
                "CREATE SCHEMA public AUTHORIZATION pg_database_owner;\n\
                 GRANT USAGE ON SCHEMA public TO PUBLIC;\n",
            );
        } else {
            let owner = quote_ident(self.bootstrap_role);
            sql.push_str(&format!(
                "CREATE SCHEMA public AUTHORIZATION {owner};\n\
                 GRANT ALL ON SCHEMA public TO PUBLIC;\n"
            ));
        }
        sql.push_str("COMMENT ON SCHEMA public IS 'standard public schema';\n");
        sql
    }
}

/// Replays `file` in one transaction; on failure returns what the tools printed. `progress`
/// hears the bytes relayed to psql.
pub(crate) fn replay(
    tools: &Tools,
    config: &postgres::Config,
    file: &Path,
    preamble: &Preamble<'_>,
    progress: &Reporter,
) -> Result<(), String> {
    let spawn_failed =
        |tool: &Path, e: std::io::Error| format!("cannot start {}: {e}", tool.display());
    let mut producer = Command::new(&tools.pg_restore)
        .arg("--file=-")
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_failed(&tools.pg_restore, e))?;
    let mut consumer = match connected(&tools.psql, config)
        .args(["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(preamble.sql())
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            end(&mut producer);
            return Err(spawn_failed(&tools.psql, e));
        }
    };
    let producer_err = drain(producer.stderr.take());
    let consumer_err = drain(consumer.stderr.take());
    // psql's input stays open until pg_restore's exit status is known.
    let mut input = consumer.stdin.take();
    let copied = match (producer.stdout.take(), input.as_mut()) {
        (Some(mut from), Some(to)) => relay(&mut from, to, progress),
        _ => Err(std::io::Error::other("pipes missing")),
    };
    let produced = if copied.is_ok() {
        producer.wait().map(|s| s.success()).unwrap_or(false)
    } else {
        end(&mut producer);
        false
    };
    if !produced {
        // Killed before it reads the end of its input, psql never sends COMMIT.
        end(&mut consumer);
    }
    drop(input);
    // psql has seen the end of its input: it commits (or it was killed).
    let consumed = consumer.wait().map(|s| s.success()).unwrap_or(false);
    let producer_err = producer_err.join().unwrap_or_default();
    let consumer_err = consumer_err.join().unwrap_or_default();
    if produced && consumed {
        return Ok(());
    }
    let mut text = consumer_err.trim().to_owned();
    if !produced {
        text = format!("{} {}", producer_err.trim(), text)
            .trim()
            .to_owned();
    }
    if let Err(e) = copied {
        text.push_str(&format!(" (relaying the dump failed: {e})"));
    }
    Err(text)
}

/// Copies pg_restore's SQL to psql, reporting the bytes relayed after each chunk.
fn relay(from: &mut impl Read, to: &mut impl Write, progress: &Reporter) -> std::io::Result<()> {
    let mut buf = vec![0; 256 * 1024];
    let mut done = 0u64;
    progress.report(ProgressStage::Replay, 0, 0);
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        done += n as u64;
        progress.report(ProgressStage::Replay, done, 0);
    }
}

fn end(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads a child's stderr on a thread, so that neither child blocks on a full pipe.
pub(crate) fn drain(stream: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stream) = stream {
            let mut bytes = Vec::new();
            let _ = stream.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}
