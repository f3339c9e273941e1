//! A byte copy of the database file made by a forked child process, so that the file is
//! opened and closed only in the child.
//!
//! Why a child: closing any descriptor of a file drops every POSIX lock the *process* holds on
//! it, SQLite's own included. A copy inside this process would open and close the database
//! file and silently release the migrating connection's locks. A child's descriptors and locks
//! are its own: its exit releases nothing of ours.
//!
//! The child runs between `fork` and `_exit` only async-signal-safe system calls (`open`,
//! `copy_file_range` or `read`/`write`, `fdatasync`): the parent may have other threads, and
//! the child must not allocate or take a lock one of them held. Everything it needs (the path
//! as a C string, the buffer) is prepared before the fork.
//!
//! The caller must keep writers off for the whole copy (it holds a read transaction on the
//! database from a second connection): this module only copies bytes.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::Duration;

/// Exit codes of the child: which system call failed.
const OPEN_FAILED: i32 = 101;
const READ_FAILED: i32 = 102;
const WRITE_FAILED: i32 = 103;
const SYNC_FAILED: i32 = 104;

/// Bytes per `copy_file_range` call, and the size of the fallback buffer.
const CHUNK: usize = 8 << 20;

/// A copy running in a child process.
pub struct ChildCopy {
    pid: libc::pid_t,
}

impl ChildCopy {
    /// Forks a child that copies the whole file at `source` into `target` (already open for
    /// writing, empty, at offset 0) and flushes it to disk (`fdatasync`).
    pub fn start(source: &Path, target: &File) -> io::Result<ChildCopy> {
        let source = CString::new(source.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
        let out = target.as_raw_fd();
        // Allocated here: the child must not allocate.
        let mut buffer = vec![0u8; CHUNK];
        // SAFETY: in the child only async-signal-safe calls run, on memory prepared before the
        // fork, and it ends with `_exit` (no destructors, no atexit handlers, no flush of
        // buffers it shares with the parent).
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            let code = unsafe { copy_in_child(&source, out, &mut buffer) };
            unsafe { libc::_exit(code) };
        }
        Ok(ChildCopy { pid })
    }

    /// Whether the child has finished, without waiting: `Some(result)` once it has.
    pub fn try_finish(&mut self) -> io::Result<Option<()>> {
        self.wait(libc::WNOHANG)
    }

    /// Waits for the child and reports how it ended.
    pub fn finish(mut self) -> io::Result<()> {
        loop {
            if let Some(()) = self.wait(0)? {
                return Ok(());
            }
        }
    }

    fn wait(&mut self, flags: libc::c_int) -> io::Result<Option<()>> {
        let mut status: libc::c_int = 0;
        // SAFETY: plain system call on our own child's pid.
        let waited = unsafe { libc::waitpid(self.pid, &mut status, flags) };
        if waited == 0 {
            return Ok(None);
        }
        if waited < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                return Ok(None);
            }
            return Err(error);
        }
        self.pid = 0;
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            return Ok(Some(()));
        }
        let what = if libc::WIFEXITED(status) {
            match libc::WEXITSTATUS(status) {
                OPEN_FAILED => "the copying child process could not open the database".into(),
                READ_FAILED => "the copying child process could not read the database".into(),
                WRITE_FAILED => "the copying child process could not write the backup".into(),
                SYNC_FAILED => "the copying child process could not flush the backup".into(),
                code => format!("the copying child process exited with code {code}"),
            }
        } else {
            format!("the copying child process ended abnormally (wait status {status})")
        };
        Err(io::Error::other(what))
    }
}

impl Drop for ChildCopy {
    /// A copy abandoned on an error path: the child is killed and reaped (no zombie).
    fn drop(&mut self) {
        if self.pid > 0 {
            // SAFETY: our own child, not yet reaped, so the pid cannot have been reused.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// How long a waiting parent sleeps between looks at the child when it reports progress.
pub const POLL: Duration = Duration::from_millis(20);

/// The child's work: open, copy to the end, flush. Returns the exit code.
///
/// # Safety
/// Only to be called in a freshly forked child; uses only async-signal-safe calls.
unsafe fn copy_in_child(source: &CString, out: libc::c_int, buffer: &mut [u8]) -> i32 {
    let input = unsafe { libc::open(source.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if input < 0 {
        return OPEN_FAILED;
    }
    let mut kernel_copy = cfg!(target_os = "linux");
    loop {
        #[cfg(target_os = "linux")]
        if kernel_copy {
            let n = unsafe {
                libc::copy_file_range(
                    input,
                    std::ptr::null_mut(),
                    out,
                    std::ptr::null_mut(),
                    CHUNK,
                    0,
                )
            };
            match n {
                0 => break,
                n if n > 0 => continue,
                _ if interrupted() => continue,
                // Not supported here (another filesystem, an old kernel): copy through the
                // buffer from where the kernel stopped (the offsets moved with what it copied).
                _ => {
                    kernel_copy = false;
                    continue;
                }
            }
        }
        let _ = kernel_copy;
        let n = unsafe { libc::read(input, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n == 0 {
            break;
        }
        if n < 0 {
            if interrupted() {
                continue;
            }
            return READ_FAILED;
        }
        let mut written = 0usize;
        while written < n as usize {
            let w = unsafe {
                libc::write(
                    out,
                    buffer[written..].as_ptr().cast(),
                    n as usize - written,
                )
            };
            if w < 0 {
                if interrupted() {
                    continue;
                }
                return WRITE_FAILED;
            }
            written += w as usize;
        }
    }
    if unsafe { libc::fdatasync(out) } != 0 {
        return SYNC_FAILED;
    }
    0
}

fn interrupted() -> bool {
    io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
}
