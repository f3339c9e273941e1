//! What a backend implements for the command line ([`Target`]), and the small shapes its
//! answers take so the shared code prints them the same way for every backend.

use crate::backups::{BackupKind, RestoreFrom, Retention};
use crate::protocol::{Operation, Resolution};
use crate::{HistoryRow, RunReport, StatusReport};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::path::{Path, PathBuf};

/// A backend's error as the command line sees it: its exit code, and how to build the refusal
/// of a command the backend does not offer.
///
/// ```
/// use migrate_core::cli::{Failure, EXIT_REFUSED};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("{0}")]
/// struct MyError(String);
///
/// impl Failure for MyError {
///     fn exit_code(&self) -> u8 {
///         EXIT_REFUSED
///     }
///     fn not_offered(message: String) -> Self {
///         MyError(message)
///     }
/// }
/// assert_eq!(MyError::not_offered("no".into()).exit_code(), 3);
/// ```
pub trait Failure: std::error::Error + Sized {
    /// The process exit code for this error ([`EXIT_FAILED`](super::EXIT_FAILED),
    /// [`EXIT_REFUSED`](super::EXIT_REFUSED), [`EXIT_LOCKED`](super::EXIT_LOCKED)).
    fn exit_code(&self) -> u8;
    /// The error for a command this backend does not offer (`message` names what to do
    /// instead); its exit code must be [`EXIT_REFUSED`](super::EXIT_REFUSED).
    fn not_offered(message: String) -> Self;
    /// What stderr shows after `error: `: by default `Debug` (a backend whose `Debug` is its
    /// message plus causes, as SQLite's); otherwise the message, then each cause whose text
    /// the message does not already include.
    fn message(&self) -> String {
        format!("{self:?}")
    }
}

/// The message of `error`, then `: cause` for each cause whose text it does not already
/// include (for [`Failure::message`] of an error type with a derived `Debug`).
///
/// ```
/// let e = std::io::Error::other("disk full");
/// assert_eq!(migrate_core::cli::message_with_causes(&e), "disk full");
/// ```
pub fn message_with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = e.source();
    }
    text
}

/// A backend's own report, ready to print: the text, the JSON document (`None`: the text is
/// printed under `--json` too), and the exit code it means.
///
/// ```
/// let r = migrate_core::cli::Rendered::new("ok".into(), &serde_json::json!({"ok": true}), 0);
/// assert_eq!(r.json.as_deref(), Some(r#"{"ok":true}"#));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Printed with a final newline.
    pub text: String,
    /// One JSON document, already serialized (so a struct keeps its field order).
    pub json: Option<String>,
    /// The exit code.
    pub code: u8,
}

impl Rendered {
    /// A report with its text and its JSON.
    ///
    /// ```
    /// let r = migrate_core::cli::Rendered::new("done".into(), &[1, 2], 0);
    /// assert_eq!(r.json.as_deref(), Some("[1,2]"));
    /// ```
    pub fn new(text: String, json: &impl Serialize, code: u8) -> Rendered {
        let json = serde_json::to_string(json).unwrap_or_else(|e| {
            // Unreachable for the reports (string keys only); say so rather than print nothing.
            serde_json::json!({ "error": { "message": format!("cannot print JSON: {e}") } })
                .to_string()
        });
        Rendered {
            text,
            json: Some(json),
            code,
        }
    }

    /// A report that is text only (also under `--json`).
    ///
    /// ```
    /// let r = migrate_core::cli::Rendered::text("imported 3".into());
    /// assert_eq!((r.json, r.code), (None, 0));
    /// ```
    pub fn text(text: String) -> Rendered {
        Rendered {
            text,
            json: None,
            code: super::EXIT_OK,
        }
    }

    /// What a restore did, and the command that undoes it: `restored from X; to undo: migrate
    /// restore Y`, or `{"restored_from", "undo_backup": {..}}`.
    ///
    /// ```
    /// use migrate_core::backups::BackupKind;
    /// use migrate_core::cli::{BackupLine, Rendered};
    /// let undo = BackupLine {
    ///     path: "/b/app.20261122T104914.123Z.pre-restore.db".into(),
    ///     kind: BackupKind::Automatic { reason: "pre-restore".into() },
    ///     created_at: "20261122T104914.123Z".into(),
    ///     size: 4096,
    ///     schema_version: Some(2),
    /// };
    /// let r = Rendered::restored("/b/old.db".as_ref(), &undo);
    /// assert!(r.text.ends_with("to undo: migrate restore /b/app.20261122T104914.123Z.pre-restore.db"));
    /// ```
    pub fn restored(restored_from: &Path, undo_backup: &BackupLine) -> Rendered {
        struct Restored<'a>(&'a Path, &'a BackupLine);
        impl Serialize for Restored<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut s = serializer.serialize_struct("RestoreReport", 2)?;
                s.serialize_field("restored_from", &self.0.display().to_string())?;
                s.serialize_field("undo_backup", self.1)?;
                s.end()
            }
        }
        let text = format!(
            "restored from {}; to undo: migrate restore {}",
            restored_from.display(),
            crate::protocol::shell_word(&undo_backup.path)
        );
        Rendered::new(text, &Restored(restored_from, undo_backup), super::EXIT_OK)
    }
}

/// One backup file as `backups`, `snapshot list` and `backup` print it.
///
/// JSON: `{"name", "kind", "created_at", "size", "schema_version", "path"}`: `name` is a
/// snapshot's name or an automatic backup's reason (`pre-up`...), `kind` is `snapshot`,
/// `automatic`, `manual` or `failed-state`.
///
/// ```
/// use migrate_core::backups::BackupKind;
/// let line = migrate_core::cli::BackupLine {
///     path: "/b/app.20261122T104914.123Z.snapshot.v1.db".into(),
///     kind: BackupKind::Snapshot { name: "v1".into() },
///     created_at: "20261122T104914.123Z".into(),
///     size: 4096,
///     schema_version: None,
/// };
/// let json = serde_json::to_value(&line)?;
/// assert_eq!(json["name"], "v1");
/// assert_eq!(json["kind"], "snapshot");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupLine {
    /// Where it is.
    pub path: PathBuf,
    /// Why it was taken.
    pub kind: BackupKind,
    /// When, UTC, as in its name.
    pub created_at: String,
    /// Its size in bytes.
    pub size: u64,
    /// The highest applied migration it holds, when the backend knows it from the listing.
    pub schema_version: Option<u64>,
}

impl Serialize for BackupLine {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, name): (&str, &str) = match &self.kind {
            BackupKind::Snapshot { name } => ("snapshot", name),
            BackupKind::Automatic { reason } => ("automatic", reason),
            BackupKind::FailedState => ("failed-state", "failed-state"),
            BackupKind::Manual => ("manual", "manual"),
        };
        let mut s = serializer.serialize_struct("BackupInfo", 6)?;
        s.serialize_field("name", name)?;
        s.serialize_field("kind", kind)?;
        s.serialize_field("created_at", &self.created_at)?;
        s.serialize_field("size", &self.size)?;
        s.serialize_field("schema_version", &self.schema_version)?;
        s.serialize_field("path", &self.path.display().to_string())?;
        s.end()
    }
}

/// One registered migration set, as `sets` prints it.
///
/// ```
/// let line = migrate_core::cli::SetLine { set: "default".into(), migrations: 3, standing: None };
/// assert_eq!(line.migrations, 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetLine {
    /// Its name.
    pub set: String,
    /// How many migrations the binary has for it.
    pub migrations: usize,
    /// Where it stands in the database (`applied 2, pending 1 (at seq 2)`, or why it cannot
    /// be read); `None` when there is no database to read.
    pub standing: Option<String>,
}

/// How `restore` treats its source and a damaged live database.
///
/// ```
/// let how = migrate_core::cli::RestoreRequest::default();
/// assert!(!how.allow_foreign_source && !how.replace_damaged);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestoreRequest {
    /// `--allow-foreign-source`: restore a file that is not one of this database's backups.
    pub allow_foreign_source: bool,
    /// The operator confirmed replacing the database: a backend that can keep a damaged live
    /// database aside (SQLite) may do so (`migrate restore`; not `snapshot restore`).
    pub replace_damaged: bool,
}

/// The operations a backend offers the command line. The shared code parses the arguments,
/// asks for confirmations, calls these in order and prints the answers; the backend opens its
/// database and performs each act.
///
/// [`open`](Target::open) is called before any operation on the database (not before `sets`,
/// `new`, `rehearse` and `import`). The SQLite-only commands (`rehearse`, `restore-table`,
/// `new`, `import`, `adopt`) have default implementations that refuse (exit 3) with a message
/// naming what to do instead.
///
/// See `migrate_sqlite::cli` and `migrate_postgres::cli` for the two implementations; the
/// smallest possible one:
///
/// ```
/// use migrate_core::cli::*;
/// use migrate_core::backups::{RestoreFrom, Retention};
/// use migrate_core::protocol::{Operation, Resolution};
/// use migrate_core::{HistoryRow, RunReport, StatusReport};
/// use std::path::PathBuf;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("{0}")]
/// struct E(String);
/// impl Failure for E {
///     fn exit_code(&self) -> u8 { EXIT_REFUSED }
///     fn not_offered(message: String) -> Self { E(message) }
/// }
///
/// struct Nothing;
/// fn no<T>() -> Result<T, E> { Err(E("nothing here".into())) }
/// impl Target for Nothing {
///     type Error = E;
///     const BACKEND: &'static str = "nothing";
///     fn open(&mut self, _create: bool) -> Result<(), E> { no() }
///     fn retention(&self) -> Retention { Retention::default() }
///     fn status(&mut self) -> Result<StatusReport, E> { no() }
///     fn run(&mut self, _op: Operation) -> Result<RunReport, E> { no() }
///     fn plan(&mut self, _op: Operation) -> Result<Rendered, E> { no() }
///     fn verify(&mut self) -> Result<Rendered, E> { no() }
///     fn backup(&mut self) -> Result<BackupLine, E> { no() }
///     fn backups(&mut self) -> Result<Vec<BackupLine>, E> { no() }
///     fn failed_states(&mut self) -> Result<Vec<BackupLine>, E> { no() }
///     fn snapshot(&mut self, _name: &str) -> Result<BackupLine, E> { no() }
///     fn snapshots(&mut self) -> Result<Vec<BackupLine>, E> { no() }
///     fn delete_snapshot(&mut self, _name: &str) -> Result<(), E> { no() }
///     fn backup_before(&mut self, _seq: u64) -> Result<PathBuf, E> { no() }
///     fn restore(&mut self, _from: &RestoreFrom, _how: RestoreRequest) -> Result<Rendered, E> { no() }
///     fn history(&mut self) -> Result<Vec<HistoryRow>, E> { no() }
///     fn resolve(&mut self, _seq: u64, _r: Resolution) -> Result<(), E> { no() }
///     fn sets(&mut self) -> Result<Vec<SetLine>, E> { Ok(vec![]) }
/// }
/// let args = parse(["migrate", "status"]).unwrap();
/// assert_eq!(execute(&mut Nothing, args).unwrap_err().to_string(), "nothing here");
/// ```
pub trait Target {
    /// The backend's error.
    type Error: Failure;
    /// The backend's name in messages (`SQLite`, `PostgreSQL`).
    const BACKEND: &'static str;

    /// Opens the database (`create`: only `up` may create a missing SQLite file).
    fn open(&mut self, create: bool) -> Result<(), Self::Error>;
    /// The retention rule in force (to say how long a backup is kept).
    fn retention(&self) -> Retention;
    /// `status`.
    fn status(&mut self) -> Result<StatusReport, Self::Error>;
    /// `up`, `down`, `redo`.
    fn run(&mut self, op: Operation) -> Result<RunReport, Self::Error>;
    /// `plan` (`Up(None)`), `plan --down` (`Down`), `plan --redo` (`Redo`): the dry run; exit
    /// code 1 when a migration fails in it.
    fn plan(&mut self, op: Operation) -> Result<Rendered, Self::Error>;
    /// `verify`: exit code 3 on any problem.
    fn verify(&mut self) -> Result<Rendered, Self::Error>;
    /// `backup`: a manual backup now.
    fn backup(&mut self) -> Result<BackupLine, Self::Error>;
    /// Every backup and snapshot, without failed-state copies.
    fn backups(&mut self) -> Result<Vec<BackupLine>, Self::Error>;
    /// The failed-state copies.
    fn failed_states(&mut self) -> Result<Vec<BackupLine>, Self::Error>;
    /// `snapshot create NAME`.
    fn snapshot(&mut self, name: &str) -> Result<BackupLine, Self::Error>;
    /// `snapshot list`.
    fn snapshots(&mut self) -> Result<Vec<BackupLine>, Self::Error>;
    /// `snapshot delete NAME`.
    fn delete_snapshot(&mut self, name: &str) -> Result<(), Self::Error>;
    /// `restore --before SEQ`: the newest backup taken while SEQ was not applied (or the error
    /// saying there is none).
    fn backup_before(&mut self, seq: u64) -> Result<PathBuf, Self::Error>;
    /// `restore`, `snapshot restore`: usually [`Rendered::restored`].
    fn restore(&mut self, from: &RestoreFrom, how: RestoreRequest)
    -> Result<Rendered, Self::Error>;
    /// `history`.
    fn history(&mut self) -> Result<Vec<HistoryRow>, Self::Error>;
    /// `resolve SEQ --applied | --not-applied`.
    fn resolve(&mut self, seq: u64, resolution: Resolution) -> Result<(), Self::Error>;
    /// `sets`: every set linked into the binary, with where it stands.
    fn sets(&mut self) -> Result<Vec<SetLine>, Self::Error>;

    /// `status --all-sets`, `up --all-sets`: works on `set` from now on (a session of that
    /// set on the same database; `create`: as [`open`](Target::open)).
    fn switch_set(&mut self, set: &str, create: bool) -> Result<(), Self::Error> {
        let _ = (set, create);
        Err(not_offered::<Self>(
            "--all-sets",
            "run the command once per set, `migrate up --set NAME` (`migrate sets` lists them)",
        ))
    }

    /// `up --all-sets`: takes the one pre-migration backup of a run over several sets (on
    /// the current set's session) and makes every later run of this target use it instead of
    /// taking its own; `None` when this target takes no backups.
    fn back_up_once(&mut self) -> Result<Option<BackupLine>, Self::Error> {
        Err(not_offered::<Self>(
            "up --all-sets",
            "run `migrate up --set NAME` once per set (`migrate sets` lists them)",
        ))
    }

    /// `rehearse up|down|redo` on a copy; exit code 1 when it failed there.
    fn rehearse(&mut self, op: Operation) -> Result<Rendered, Self::Error> {
        let _ = op;
        Err(not_offered::<Self>(
            "rehearse",
            "preview the change with `migrate plan` (or `migrate plan --down ...`), or run it \
             on a restored copy of a backup",
        ))
    }

    /// `restore-table TABLE [FROM]` (confirmed already).
    fn restore_table(&mut self, table: &str, from: &RestoreFrom) -> Result<Rendered, Self::Error> {
        let _ = (table, from);
        Err(not_offered::<Self>(
            "restore-table",
            "restore the whole database with `migrate restore`",
        ))
    }

    /// `new NAME [--from-schema FILE] [--dir DIR]`.
    fn new_migration(
        &mut self,
        name: &str,
        from_schema: Option<&Path>,
        dir: Option<&Path>,
    ) -> Result<Rendered, Self::Error> {
        let _ = (name, from_schema, dir);
        Err(not_offered::<Self>(
            "new",
            "write the next migration by hand: a `#[migration(seq = N)]` fn in its own file",
        ))
    }

    /// `import SOURCE --out DIR [--from LAYOUT] [--force]` (`set`: `--set`).
    fn import(
        &mut self,
        source: &Path,
        out: &Path,
        from: Option<crate::import::Layout>,
        force: bool,
        set: Option<&str>,
    ) -> Result<Rendered, Self::Error> {
        let _ = (source, out, from, force, set);
        Err(not_offered::<Self>(
            "import",
            "write one `#[migration]` per file of the other tool by hand (their SQL through \
             `include_str!`)",
        ))
    }

    /// `adopt --from TOOL`.
    fn adopt(&mut self, tool: &str) -> Result<Rendered, Self::Error> {
        let _ = tool;
        Err(not_offered::<Self>(
            "adopt",
            "record the other tool's migrations with `migrate resolve SEQ --applied` after \
             checking the schema",
        ))
    }
}

/// The refusal of a command `T` does not offer: exit 3, nothing changed, what to do instead.
///
/// ```
/// # use migrate_core::cli::*;
/// # #[derive(Debug, thiserror::Error)] #[error("{0}")] struct E(String);
/// # impl Failure for E { fn exit_code(&self) -> u8 { 3 } fn not_offered(m: String) -> Self { E(m) } }
/// let text = not_offered_message("PostgreSQL", "rehearse", "use `migrate plan`");
/// assert!(text.starts_with("`migrate rehearse` is not available on PostgreSQL"));
/// ```
pub fn not_offered_message(backend: &str, command: &str, instead: &str) -> String {
    format!(
        "`migrate {command}` is not available on {backend}; nothing was changed. Instead: \
         {instead}"
    )
}

fn not_offered<T: Target + ?Sized>(command: &str, instead: &str) -> T::Error {
    T::Error::not_offered(not_offered_message(T::BACKEND, command, instead))
}
