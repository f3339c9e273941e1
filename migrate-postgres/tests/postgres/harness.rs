//! The test server harness itself: a socket-only cluster, a fresh database per test, and the
//! cluster stopped and removed when the test process ends, even by a panic or SIGKILL.

use crate::common::{db, exists};
use migrate_postgres::testing;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in a child test process: how that child should end.
const CHILD: &str = "MIGRATE_PG_HARNESS_CHILD";

#[test]
fn each_test_gets_its_own_database_on_a_socket_only_server() {
    let (Some(a), Some(b)) = (db(), db()) else {
        return;
    };
    assert_ne!(a.name, b.name);
    a.client()
        .batch_execute("CREATE TABLE mine (id int)")
        .unwrap();
    assert!(!exists(&mut b.client(), "public.mine"));
    let mut client = a.client();
    let show = |client: &mut postgres::Client, s: &str| -> String {
        client.query_one(&format!("SHOW {s}"), &[]).unwrap().get(0)
    };
    assert_eq!(show(&mut client, "listen_addresses"), "");
    assert_eq!(show(&mut client, "fsync"), "off");
    let dir = testing::server().unwrap().socket_dir();
    assert!(dir.join(".s.PGSQL.5432").exists());
}

#[test]
fn a_database_can_be_copied_from_a_migrated_template() {
    let Some(template) = db() else { return };
    {
        let mut client = template.client();
        client
            .batch_execute("CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (1), (2)")
            .unwrap();
    } // closed: CREATE DATABASE ... TEMPLATE needs nobody connected to the template
    let server = testing::server().unwrap();
    let copy = server.database_from(&template);
    assert_ne!(copy.name, template.name);
    let mut client = copy.client();
    assert_eq!(crate::common::count(&mut client, "seeded"), 2);
    client.batch_execute("DELETE FROM seeded").unwrap();
    assert_eq!(crate::common::count(&mut template.client(), "seeded"), 2);
}

/// Runs this binary's test `name` in a child process with `CHILD=mode` and `TMPDIR=tmp`; waits
/// for its cluster to be up; returns the child and the cluster's postmaster pid.
fn child_with_cluster(name: &str, mode: &str, tmp: &Path) -> (std::process::Child, u32, PathBuf) {
    // The cluster's directory belongs to `postgres` when we are root: it must reach it.
    std::fs::set_permissions(tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .env("TMPDIR", tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let dir = stdout
        .lines()
        .map_while(Result::ok)
        // libtest writes "test <name> ... " first, on the same line.
        .find_map(|line| {
            line.split_once("CLUSTER ")
                .map(|(_, dir)| PathBuf::from(dir))
        })
        .expect("the child reports its cluster");
    let pid_file = std::fs::read_to_string(dir.join("data/postmaster.pid")).unwrap();
    let pid = pid_file.lines().next().unwrap().trim().parse().unwrap();
    (child, pid, dir)
}

/// Waits (bounded, so a regression fails instead of hanging) until the postmaster is gone and
/// the cluster's directory removed.
fn wait_until_cleaned_up(pid: u32, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    while (proc_dir.exists() || dir.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!proc_dir.exists(), "postmaster {pid} still runs");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

/// In the child: start the cluster, say where, then end as told.
fn child_body(mode: &str) {
    let db = db().expect("the parent found server binaries");
    db.client().batch_execute("SELECT 1").unwrap();
    println!(
        "CLUSTER {}",
        testing::server().unwrap().socket_dir().display()
    );
    match mode {
        "panic" => panic!("a test fails while the cluster runs"),
        _ => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
    }
}

#[test]
fn the_cluster_is_stopped_when_a_test_panics() {
    if let Ok(mode) = std::env::var(CHILD) {
        return child_body(&mode);
    }
    if testing::server().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, pid, dir) = child_with_cluster(
        "harness::the_cluster_is_stopped_when_a_test_panics",
        "panic",
        tmp.path(),
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(101), "the child's test failed");
    wait_until_cleaned_up(pid, &dir);
}

#[test]
fn the_cluster_is_stopped_when_the_test_process_is_killed() {
    if let Ok(mode) = std::env::var(CHILD) {
        return child_body(&mode);
    }
    if testing::server().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, pid, dir) = child_with_cluster(
        "harness::the_cluster_is_stopped_when_the_test_process_is_killed",
        "hang",
        tmp.path(),
    );
    assert!(PathBuf::from(format!("/proc/{pid}")).exists());
    child.kill().unwrap(); // SIGKILL: no atexit, no destructor; only the watchdog is left
    child.wait().unwrap();
    wait_until_cleaned_up(pid, &dir);
}
