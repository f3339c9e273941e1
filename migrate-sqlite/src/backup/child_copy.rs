//! A byte copy of the database file made by a forked child process, so that the file is
//! opened and closed only in the child.
//!
//! Why a child: closing any descriptor of a file drops every POSIX lock the *process* holds on
//! it, SQLite's own included. A copy inside this process would open and close the database
//! file and silently release the migrating connection's locks. A child's descriptors and locks
//! are its own: its exit releases nothing of ours.
//!
//! The child runs between `fork` and `_exit` only async-signal-safe system calls (`open`,
//! `read`, `pwrite`, `copy_file_range`, `fdatasync`): the parent may have other threads, and
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

/// Bytes read and written per call: large enough to keep the disk busy with direct writes.
const CHUNK: usize = 16 << 20;
/// The alignment direct I/O asks of the buffer, offsets and lengths.
const ALIGN: usize = 4096;

/// A copy running in a child process.
pub struct ChildCopy {
    pid: libc::pid_t,
}

/// The child's buffer, aligned for direct I/O, allocated before the fork (the child must not
/// allocate) and freed by the parent.
struct Buffer(*mut u8);

impl Buffer {
    fn layout() -> std::alloc::Layout {
        // CHUNK and ALIGN are powers of two, ALIGN <= CHUNK: this layout is valid.
        std::alloc::Layout::from_size_align(CHUNK, ALIGN).expect("valid layout")
    }

    fn new() -> io::Result<Buffer> {
        // SAFETY: a non-zero size.
        let ptr = unsafe { std::alloc::alloc(Self::layout()) };
        if ptr.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        Ok(Buffer(ptr))
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.0, Self::layout()) };
    }
}

impl ChildCopy {
    /// Forks a child that copies the whole file at `source` into the file at `target_path`,
    /// open as `target` (empty), and flushes it to disk (`fdatasync`).
    ///
    /// The child writes with direct I/O (`O_DIRECT`) where the system and the filesystem allow
    /// it: the copy goes from one reused buffer to the disk, not through fresh page-cache
    /// pages that the final flush would then have to write (in this VM, first-touched
    /// page-cache memory made a plain copy twice as slow). Otherwise it copies through the page
    /// cache (`copy_file_range`, or `read`/`write`).
    pub fn start(source: &Path, target: &File, target_path: &Path) -> io::Result<ChildCopy> {
        let c_path = |path: &Path| {
            CString::new(path.as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))
        };
        let (source, direct) = (c_path(source)?, c_path(target_path)?);
        let out = target.as_raw_fd();
        let buffer = Buffer::new()?;
        // SAFETY: in the child only async-signal-safe calls run, on memory prepared before the
        // fork, and it ends with `_exit` (no destructors, no atexit handlers, no flush of
        // buffers it shares with the parent).
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: the buffer is CHUNK bytes, owned by this (child) process's copy of memory.
            let code = unsafe {
                let buffer = std::slice::from_raw_parts_mut(buffer.0, CHUNK);
                copy_in_child(&source, &direct, out, buffer)
            };
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
unsafe fn copy_in_child(
    source: &CString,
    target: &CString,
    out: libc::c_int,
    buffer: &mut [u8],
) -> i32 {
    let input = unsafe { libc::open(source.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if input < 0 {
        return OPEN_FAILED;
    }
    let direct = open_direct(target);
    let code = if direct >= 0 {
        unsafe { copy_direct(input, direct, out, buffer) }
    } else {
        unsafe { copy_buffered(input, out, buffer) }
    };
    if code != 0 {
        return code;
    }
    if unsafe { libc::fdatasync(out) } != 0 {
        return SYNC_FAILED;
    }
    0
}

/// A second descriptor of the target with direct I/O, or -1 where there is none.
#[cfg(target_os = "linux")]
fn open_direct(target: &CString) -> libc::c_int {
    unsafe {
        libc::open(
            target.as_ptr(),
            libc::O_WRONLY | libc::O_DIRECT | libc::O_CLOEXEC,
        )
    }
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_target: &CString) -> libc::c_int {
    -1
}

/// Reads into the buffer and writes each aligned chunk with direct I/O, at the offset it was
/// read from; a chunk direct I/O refuses (an unaligned tail, a filesystem that said yes to the
/// open but no to the write) goes through `out`, the page-cache descriptor.
unsafe fn copy_direct(
    input: libc::c_int,
    direct: libc::c_int,
    out: libc::c_int,
    buffer: &mut [u8],
) -> i32 {
    let mut offset: i64 = 0;
    let mut use_direct = true;
    loop {
        let n = match unsafe { read_full(input, buffer) } {
            Ok(0) => return 0,
            Ok(n) => n,
            Err(()) => return READ_FAILED,
        };
        let chunk = &buffer[..n];
        let mut done = false;
        if use_direct && n % ALIGN == 0 {
            if unsafe { pwrite_all(direct, chunk, offset) }.is_ok() {
                done = true;
            } else if last_errno() == libc::EINVAL {
                use_direct = false;
            } else {
                return WRITE_FAILED;
            }
        }
        if !done && unsafe { pwrite_all(out, chunk, offset) }.is_err() {
            return WRITE_FAILED;
        }
        offset += n as i64;
    }
}

/// Through the page cache: `copy_file_range` where the kernel has it, else `read`/`write`.
unsafe fn copy_buffered(input: libc::c_int, out: libc::c_int, buffer: &mut [u8]) -> i32 {
    let mut offset: i64 = 0;
    #[cfg(target_os = "linux")]
    loop {
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
            0 => return 0,
            n if n > 0 => offset += n as i64,
            _ if last_errno() == libc::EINTR => {}
            // Not supported here (another filesystem, an old kernel): on through the buffer
            // from where the kernel stopped (the offsets moved with what it copied).
            _ => break,
        }
    }
    loop {
        let n = match unsafe { read_full(input, buffer) } {
            Ok(0) => return 0,
            Ok(n) => n,
            Err(()) => return READ_FAILED,
        };
        if unsafe { pwrite_all(out, &buffer[..n], offset) }.is_err() {
            return WRITE_FAILED;
        }
        offset += n as i64;
    }
}

/// Fills `buffer` unless the end of the file comes first: the number of bytes read.
unsafe fn read_full(fd: libc::c_int, buffer: &mut [u8]) -> Result<usize, ()> {
    let mut filled = 0;
    while filled < buffer.len() {
        let rest = &mut buffer[filled..];
        let n = unsafe { libc::read(fd, rest.as_mut_ptr().cast(), rest.len()) };
        match n {
            0 => break,
            n if n > 0 => filled += n as usize,
            _ if last_errno() == libc::EINTR => {}
            _ => return Err(()),
        }
    }
    Ok(filled)
}

/// Writes all of `data` at `offset`.
unsafe fn pwrite_all(fd: libc::c_int, data: &[u8], offset: i64) -> Result<(), ()> {
    let mut written = 0;
    while written < data.len() {
        let rest = &data[written..];
        let n = unsafe {
            libc::pwrite(
                fd,
                rest.as_ptr().cast(),
                rest.len(),
                (offset + written as i64) as libc::off_t,
            )
        };
        match n {
            n if n > 0 => written += n as usize,
            _ if n < 0 && last_errno() == libc::EINTR => {}
            _ => return Err(()),
        }
    }
    Ok(())
}

/// `errno` of the last failed call (reading it allocates nothing).
fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::io::AsRawFd;

    /// Two and a half chunks and an unaligned tail, each byte telling where it came from.
    fn source_bytes() -> Vec<u8> {
        (0..CHUNK * 5 / 2 + 1000)
            .map(|i| (i % 251) as u8 ^ (i / CHUNK) as u8)
            .collect()
    }

    fn copy_with(copy: unsafe fn(libc::c_int, &Path, &Path, &mut [u8]) -> i32) {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from.db"), dir.path().join("to.db"));
        let data = source_bytes();
        fs::write(&from, &data).unwrap();
        let out = File::create(&to).unwrap();
        let buffer = Buffer::new().unwrap();
        // SAFETY: the buffer is CHUNK bytes and lives until the end of the test.
        let buffer = unsafe { std::slice::from_raw_parts_mut(buffer.0, CHUNK) };
        let code = unsafe { copy(out.as_raw_fd(), &from, &to, buffer) };
        assert_eq!(code, 0);
        assert!(fs::read(&to).unwrap() == data, "the copy differs");
    }

    unsafe fn direct(out: libc::c_int, from: &Path, to: &Path, buffer: &mut [u8]) -> i32 {
        let cstr = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
        let input = unsafe { libc::open(cstr(from).as_ptr(), libc::O_RDONLY) };
        let direct = open_direct(&cstr(to));
        // Where the filesystem refuses direct I/O, `out` takes every chunk: the same bytes.
        let direct = if direct >= 0 { direct } else { out };
        unsafe { copy_direct(input, direct, out, buffer) }
    }

    unsafe fn buffered(out: libc::c_int, from: &Path, _: &Path, buffer: &mut [u8]) -> i32 {
        let from = CString::new(from.as_os_str().as_bytes()).unwrap();
        let input = unsafe { libc::open(from.as_ptr(), libc::O_RDONLY) };
        unsafe { copy_buffered(input, out, buffer) }
    }

    #[test]
    fn the_direct_copy_is_the_file_byte_for_byte_unaligned_tail_included() {
        copy_with(direct);
    }

    #[test]
    fn the_page_cache_copy_is_the_file_byte_for_byte() {
        copy_with(buffered);
    }

    #[test]
    fn a_child_that_cannot_open_the_source_says_so_and_leaves_the_target_empty() {
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("to.db");
        let out = File::create(&to).unwrap();
        let err = ChildCopy::start(&dir.path().join("missing.db"), &out, &to)
            .unwrap()
            .finish()
            .unwrap_err();
        assert!(err.to_string().contains("could not open the database"), "{err}");
        assert_eq!(fs::metadata(&to).unwrap().len(), 0);
    }

    #[test]
    fn a_child_copies_the_whole_file_and_is_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from.db"), dir.path().join("to.db"));
        let data = source_bytes();
        fs::write(&from, &data).unwrap();
        let out = File::create(&to).unwrap();
        let child = ChildCopy::start(&from, &out, &to).unwrap();
        let pid = child.pid;
        child.finish().unwrap();
        assert!(fs::read(&to).unwrap() == data, "the copy differs");
        // Reaped: no such child any more.
        let waited = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        assert_eq!(waited, -1);
    }
}
