//! A throwaway PostgreSQL server for tests: one cluster per test binary, in a temporary
//! directory, reachable only through a unix socket there, `fsync=off`; one fresh database per
//! test. It uses the system's server binaries (Debian: `/usr/lib/postgresql/<major>/bin`);
//! `initdb` and `pg_ctl` refuse root, so as root they run as the `postgres` user via `runuser`.
//!
//! The cluster is stopped when the test binary exits, however it exits: an `atexit` handler
//! stops it on a normal exit (a failed test included), and a watchdog child, which waits for
//! the end of a pipe only the test process holds, stops it when the process is killed.
//!
//! Without server binaries, [`server`] returns `None` after printing why (the test then
//! returns early), except when the `CI` environment variable is set: CI never skips.
//!
//! On this server, the tools for testing your own migrations (the PostgreSQL counterparts of
//! `migrate_sqlite::testing`): [`Harness`] (whole-sequence check: up, down, up with schema
//! comparison, seeds, row loss), [`Harness::upgrade_copy_of`] (a `pg_dump -Fc` file migrated
//! in a fresh database), [`assert_schema_snapshot`] (the schema as a file in your repository)
//! and [`Template`] (fresh migrated databases per test, copied server-side).
//!
//! ```no_run
//! let Some(server) = migrate_postgres::testing::server() else { return };
//! let db = server.database();
//! let mut conn = db.connect();
//! # let _ = conn.checked_version();
//! ```

use crate::Connection;
pub use crate::harness::{
    CheckFailure, CheckReport, CheckedDb, Harness, Seed, SeedFn, Template, UpgradeReport,
    assert_schema_snapshot, schema_snapshot,
};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Port number naming the socket file (`.s.PGSQL.<port>`); no TCP port is opened.
const PORT: u16 = 5432;

/// The running cluster of this test binary.
#[derive(Debug)]
pub struct TestServer {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    /// Held, never written: the watchdog stops the cluster when this pipe closes, which happens
    /// only when this process is gone.
    _watchdog: ChildStdin,
}

/// One fresh database of the test cluster.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its name (`t1`, `t2`, ...).
    pub name: String,
    config: postgres::Config,
}

static SERVER: OnceLock<Option<TestServer>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The cluster of this test binary, started on first use; `None` (with a message on stderr)
/// when no server binaries exist and `CI` is not set.
///
/// # Panics
///
/// When `CI` is set and no binaries exist, or when the cluster cannot be started: a test
/// that needs the server fails loudly rather than passing without it.
///
/// ```no_run
/// if let Some(server) = migrate_postgres::testing::server() {
///     println!("cluster in {}", server.socket_dir().display());
/// }
/// ```
pub fn server() -> Option<&'static TestServer> {
    SERVER
        .get_or_init(|| match find_bin() {
            Some(bin) => Some(TestServer::start(bin)),
            None if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) => panic!(
                "CI is set and no PostgreSQL server binaries were found (looked for \
                 /usr/lib/postgresql/*/bin/initdb and `pg_config --bindir`): install them with \
                 `apt-get install -y --no-install-recommends postgresql` (.ci/run does)"
            ),
            None => {
                eprintln!(
                    "SKIPPED: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); \
                     install the `postgresql` package to run the PostgreSQL tests"
                );
                None
            }
        })
        .as_ref()
}

/// `MIGRATE_PG_BIN`, else the newest `/usr/lib/postgresql/<major>/bin`, else `pg_config --bindir`.
fn find_bin() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("MIGRATE_PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| has_tools(d));
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    majors.sort();
    if let Some((_, bin)) = majors.pop() {
        return Some(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    Some(dir).filter(|d| has_tools(d))
}

impl TestServer {
    fn start(bin: PathBuf) -> TestServer {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = std::env::temp_dir().join(format!("mpg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("cannot create the test cluster's directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("cannot set the test cluster directory's mode");
        if as_postgres {
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(&dir)
                .status()
                .expect("cannot run chown");
            assert!(status.success(), "chown postgres {} failed", dir.display());
        }
        let watchdog = spawn_watchdog(&dir, &bin, as_postgres);
        let server = TestServer {
            dir,
            bin,
            as_postgres,
            _watchdog: watchdog,
        };
        let data = server.dir.join("data");
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C.UTF-8".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        // max_locks_per_transaction = 32 (default 64) halves the shared lock table, so that
        // one transaction of ~2,500 indexed tables overflows it (chunks.rs shows the runner
        // committing in chunks instead) and the tests that prove it stay fast.
        let options = format!(
            "-k {} -p {PORT} -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200 -c max_locks_per_transaction=32",
            server.dir.display()
        );
        server.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                server.dir.join("server.log").as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-s".as_ref(),
                "start".as_ref(),
            ],
        );
        // SAFETY: registering a plain extern "C" fn; it only reads the initialized static.
        unsafe { libc::atexit(stop_at_exit) };
        log::info!("test cluster started in {}", server.dir.display());
        server
    }

    /// Runs a server tool (as `postgres` when root), panicking with its output on failure.
    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) {
        let output = self.command(tool).args(args).output();
        let output = output.unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(
            output.status.success(),
            "{tool} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn command(&self, tool: &str) -> Command {
        command(&self.bin, tool, self.as_postgres)
    }

    /// The directory holding the server's unix socket (and its data and log).
    ///
    /// ```no_run
    /// let server = migrate_postgres::testing::server().unwrap();
    /// assert!(server.socket_dir().is_dir());
    /// ```
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A config for database `dbname` as the superuser `postgres`, over the unix socket.
    ///
    /// ```no_run
    /// let server = migrate_postgres::testing::server().unwrap();
    /// let admin = server.config("postgres");
    /// # let _ = admin;
    /// ```
    pub fn config(&self, dbname: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host_path(&self.dir)
            .port(PORT)
            .user("postgres")
            .dbname(dbname);
        config
    }

    /// A new empty database (`CREATE DATABASE tN`), one per test.
    ///
    /// ```no_run
    /// let server = migrate_postgres::testing::server().unwrap();
    /// let (a, b) = (server.database(), server.database());
    /// assert_ne!(a.name, b.name);
    /// ```
    pub fn database(&self) -> TestDatabase {
        self.create_database("")
    }

    /// A new database copied from `template` (`CREATE DATABASE tN TEMPLATE ...`): a server-side
    /// copy, faster than migrating each test's database. Nobody may be connected to the
    /// template meanwhile.
    ///
    /// ```no_run
    /// let server = migrate_postgres::testing::server().unwrap();
    /// let migrated = server.database();
    /// // ... migrate it, close its connections ...
    /// let copy = server.database_from(&migrated);
    /// # let _ = copy;
    /// ```
    pub fn database_from(&self, template: &TestDatabase) -> TestDatabase {
        self.create_database(&format!(" TEMPLATE {}", template.name))
    }

    fn create_database(&self, options: &str) -> TestDatabase {
        self.try_create_database(options)
            .expect("cannot create a test database")
    }

    /// `CREATE DATABASE tN<options>` through the maintenance database `postgres`.
    pub(crate) fn try_create_database(&self, options: &str) -> crate::Result<TestDatabase> {
        let name = format!("t{}", DATABASES.fetch_add(1, Ordering::Relaxed) + 1);
        let mut admin = self.config("postgres").connect(postgres::NoTls)?;
        admin.batch_execute(&format!("CREATE DATABASE {name}{options}"))?;
        Ok(TestDatabase {
            config: self.config(&name),
            name,
        })
    }
}

impl TestDatabase {
    /// Its connection config (superuser `postgres`, unix socket).
    ///
    /// ```no_run
    /// let db = migrate_postgres::testing::server().unwrap().database();
    /// assert_eq!(db.config().get_dbname(), Some(db.name.as_str()));
    /// ```
    pub fn config(&self) -> postgres::Config {
        self.config.clone()
    }

    /// A migration [`Connection`] to it.
    ///
    /// ```no_run
    /// let db = migrate_postgres::testing::server().unwrap().database();
    /// let conn = db.connect();
    /// # let _ = conn;
    /// ```
    pub fn connect(&self) -> Connection {
        Connection::from_config(&self.config).expect("cannot connect to the test database")
    }

    /// A plain client, for a test's own checks and for playing another session.
    ///
    /// ```no_run
    /// let db = migrate_postgres::testing::server().unwrap().database();
    /// let n: i64 = db.client().query_one("SELECT 1::bigint", &[]).unwrap().get(0);
    /// assert_eq!(n, 1);
    /// ```
    pub fn client(&self) -> postgres::Client {
        self.config
            .connect(postgres::NoTls)
            .expect("cannot connect to the test database")
    }
}

fn command(bin: &Path, tool: &str, as_postgres: bool) -> Command {
    let path = bin.join(tool);
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

/// `'text'` for sh.
fn sh_quote(text: &Path) -> String {
    format!("'{}'", text.display().to_string().replace('\'', r"'\''"))
}

/// The shell command that stops the cluster (if it runs) and removes its directory.
fn stop_script(dir: &Path, bin: &Path, as_postgres: bool) -> String {
    let runuser = if as_postgres {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let data = dir.join("data");
    format!(
        "if [ -f {pid} ]; then {runuser}{pg_ctl} -D {data} -m immediate -w -s stop; fi; rm -rf {dir}",
        pid = sh_quote(&data.join("postmaster.pid")),
        pg_ctl = sh_quote(&bin.join("pg_ctl")),
        data = sh_quote(&data),
        dir = sh_quote(dir),
    )
}

/// A child in its own process group (a Ctrl-C aimed at the tests does not kill it first) that
/// waits for EOF on its stdin, then stops the cluster. Our end of the pipe is close-on-exec, so
/// no other child inherits it: EOF means this process is gone.
// Never waited for: it must outlive this process, and is reaped by init after us.
#[allow(clippy::zombie_processes)]
fn spawn_watchdog(dir: &Path, bin: &Path, as_postgres: bool) -> ChildStdin {
    let script = format!("cat >/dev/null; {}", stop_script(dir, bin, as_postgres));
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("cannot start the test cluster's watchdog");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Nothing is ever sent; a flush proves the pipe is open.
    stdin.flush().expect("watchdog pipe");
    stdin
}

extern "C" fn stop_at_exit() {
    if let Some(Some(server)) = SERVER.get() {
        let script = stop_script(&server.dir, &server.bin, server.as_postgres);
        let _ = Command::new("sh").args(["-c", &script]).status();
    }
}
