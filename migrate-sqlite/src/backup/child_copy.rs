//! A byte copy of the database file made by forked child processes, so that the file is
//! opened and closed only in them.
//!
//! Why a child: closing any descriptor of a file drops every POSIX lock the *process* holds on
//! it, SQLite's own included. A copy inside this process would open and close the database
//! file and silently release the migrating connection's locks. A child's descriptors and locks
//! are its own: its exit releases nothing of ours.
//!
//! The child runs between `fork` and `_exit` only async-signal-safe system calls (`open`,
//! `pread`, `pwrite`, `copy_file_range`): the parent may have other threads, and
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
/// The parent ended before the child could ask to die with it.
const PARENT_GONE: i32 = 104;

/// Bytes read and written per call: large enough to keep the disk busy with direct writes.
const CHUNK: usize = 16 << 20;
/// The alignment direct I/O asks of the buffer, offsets and lengths.
const ALIGN: usize = 4096;

/// Children that copy at the same time, each every `WORKERS`-th chunk: while one waits for
/// the disk, the other reads, and the disk has two writes to work on.
const WORKERS: usize = 2;

/// A copy running in child processes.
pub struct ChildCopy {
    /// The children not reaped yet (0 once reaped).
    pids: [libc::pid_t; WORKERS],
    /// The first failure seen while reaping.
    failed: Option<io::Error>,
    /// Their buffers, freed once no child uses them.
    _buffers: Vec<Buffer>,
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
    /// Forks children that copy the whole file at `source` into the file at `target_path`,
    /// open as `target` (empty). The caller flushes `target` to disk afterwards.
    ///
    /// The children write with direct I/O (`O_DIRECT`) where the system and the filesystem
    /// allow it: the copy goes from reused buffers to the disk, not through fresh page-cache
    /// pages that the final flush would then have to write (in this VM, first-touched
    /// page-cache memory made a plain copy up to twice as slow). Otherwise they copy through
    /// the page cache (`copy_file_range`, or `pread`/`pwrite`).
    pub fn start(source: &Path, target: &File, target_path: &Path) -> io::Result<ChildCopy> {
        let c_path = |path: &Path| {
            CString::new(path.as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))
        };
        let (source, direct) = (c_path(source)?, c_path(target_path)?);
        let out = target.as_raw_fd();
        let buffers = (0..WORKERS)
            .map(|_| Buffer::new())
            .collect::<io::Result<Vec<Buffer>>>()?;
        let mut copy = ChildCopy {
            pids: [0; WORKERS],
            failed: None,
            _buffers: Vec::new(),
        };
        // On failure, `copy` kills and reaps the children already started.
        copy.spawn(&source, &direct, out, &buffers)?;
        copy._buffers = buffers;
        Ok(copy)
    }

    /// Forks one child per buffer. Allocates nothing, so that a test can call it in a forked
    /// process too.
    ///
    /// Each child dies with this process (`PR_SET_PDEATHSIG`): a parent killed mid-copy
    /// (SIGKILL, the OOM killer) must not leave children writing a backup nobody will finish.
    /// The signal comes when the *thread* that forked ends, and the caller waits for the
    /// children on that same thread.
    fn spawn(
        &mut self,
        source: &CString,
        direct: &CString,
        out: libc::c_int,
        buffers: &[Buffer],
    ) -> io::Result<()> {
        // SAFETY: a plain system call.
        let parent = unsafe { libc::getpid() };
        for (worker, buffer) in buffers.iter().enumerate().take(WORKERS) {
            // SAFETY: in the child only async-signal-safe calls run, on memory prepared before
            // the fork, and it ends with `_exit` (no destructors, no atexit handlers, no flush
            // of buffers it shares with the parent).
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            if pid == 0 {
                if !dies_with(parent) {
                    unsafe { libc::_exit(PARENT_GONE) };
                }
                // SAFETY: the buffer is CHUNK bytes, in this (child) process's copy of memory.
                let code = unsafe {
                    let buffer = std::slice::from_raw_parts_mut(buffer.0, CHUNK);
                    copy_in_child(source, direct, out, buffer, worker)
                };
                unsafe { libc::_exit(code) };
            }
            self.pids[worker] = pid;
        }
        Ok(())
    }

    /// Whether the children have finished, without waiting: `Some(())` once all have, or the
    /// first failure.
    pub fn try_finish(&mut self) -> io::Result<Option<()>> {
        self.reap(libc::WNOHANG)
    }

    /// Waits for the children and reports how they ended.
    pub fn finish(mut self) -> io::Result<()> {
        loop {
            if let Some(()) = self.reap(0)? {
                return Ok(());
            }
        }
    }

    fn reap(&mut self, flags: libc::c_int) -> io::Result<Option<()>> {
        for i in 0..WORKERS {
            if self.pids[i] == 0 {
                continue;
            }
            match wait(self.pids[i], flags) {
                Ok(None) => {}
                Ok(Some(outcome)) => {
                    self.pids[i] = 0;
                    if let Err(e) = outcome {
                        self.failed.get_or_insert(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if self.pids.iter().any(|&pid| pid != 0) {
            return Ok(None);
        }
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(Some(())),
        }
    }
}

/// `waitpid` of one child: `None` while it runs, else how it ended.
fn wait(pid: libc::pid_t, flags: libc::c_int) -> io::Result<Option<io::Result<()>>> {
    let mut status: libc::c_int = 0;
    // SAFETY: plain system call on our own child's pid.
    let waited = unsafe { libc::waitpid(pid, &mut status, flags) };
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
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        return Ok(Some(Ok(())));
    }
    let what = if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            OPEN_FAILED => "the copying child process could not open the database".into(),
            READ_FAILED => "the copying child process could not read the database".into(),
            WRITE_FAILED => "the copying child process could not write the backup".into(),
            PARENT_GONE => "the copying child process found its parent gone".into(),
            code => format!("the copying child process exited with code {code}"),
        }
    } else {
        format!("the copying child process ended abnormally (wait status {status})")
    };
    Ok(Some(Err(io::Error::other(what))))
}

impl Drop for ChildCopy {
    /// A copy abandoned on an error path: the children are killed and reaped (no zombie).
    fn drop(&mut self) {
        for pid in self.pids.iter_mut().filter(|pid| **pid > 0) {
            // SAFETY: our own child, not yet reaped, so the pid cannot have been reused.
            unsafe {
                libc::kill(*pid, libc::SIGKILL);
                libc::waitpid(*pid, std::ptr::null_mut(), 0);
            }
            *pid = 0;
        }
    }
}

/// Whether this process can learn how its children ended: not when the application set
/// `SIGCHLD` to be ignored (or `SA_NOCLDWAIT`), which makes the kernel reap them unasked.
pub fn exits_are_reported() -> bool {
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: reads the disposition only (no new action is given).
    let read = unsafe { libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut current) };
    read == 0 && current.sa_sigaction != libc::SIG_IGN && current.sa_flags & libc::SA_NOCLDWAIT == 0
}

/// How long a waiting parent sleeps between looks at the child when it reports progress.
pub const POLL: Duration = Duration::from_millis(20);

/// The child's work: open, copy its chunks (every `WORKERS`-th from `worker`). Returns the
/// exit code.
///
/// # Safety
/// Only to be called in a freshly forked child; uses only async-signal-safe calls.
unsafe fn copy_in_child(
    source: &CString,
    target: &CString,
    out: libc::c_int,
    buffer: &mut [u8],
    worker: usize,
) -> i32 {
    let input = unsafe { libc::open(source.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if input < 0 {
        return OPEN_FAILED;
    }
    let direct = open_direct(target);
    if direct >= 0 {
        unsafe { copy_direct(input, direct, out, buffer, worker) }
    } else {
        unsafe { copy_buffered(input, out, buffer, worker) }
    }
}

/// In a freshly forked child: asks the kernel to SIGKILL this process when `parent` ends;
/// `false` when it has ended already (then the request came too late to count: the child has
/// been handed to another parent).
#[cfg(target_os = "linux")]
fn dies_with(parent: libc::pid_t) -> bool {
    // SAFETY: async-signal-safe system calls on this process only.
    // (It cannot fail with a valid signal; should it, the copy still runs, as before.)
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        libc::getppid() == parent
    }
}

/// Elsewhere there is no such request: the child checks only that its parent is still there.
#[cfg(not(target_os = "linux"))]
fn dies_with(parent: libc::pid_t) -> bool {
    // SAFETY: a plain system call.
    unsafe { libc::getppid() == parent }
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

/// The offsets of `worker`'s chunks.
fn chunks_of(worker: usize) -> impl Iterator<Item = i64> {
    (worker..).step_by(WORKERS).map(|i| (i * CHUNK) as i64)
}

/// Reads each chunk into the buffer and writes it with direct I/O at the offset it was read
/// from; a chunk direct I/O refuses (an unaligned tail, a filesystem that said yes to the open
/// but no to the write) goes through `out`, the page-cache descriptor.
unsafe fn copy_direct(
    input: libc::c_int,
    direct: libc::c_int,
    out: libc::c_int,
    buffer: &mut [u8],
    worker: usize,
) -> i32 {
    let mut use_direct = true;
    for offset in chunks_of(worker) {
        let n = match unsafe { pread_full(input, buffer, offset) } {
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
        if n < CHUNK {
            return 0;
        }
    }
    0
}

/// Through the page cache: `copy_file_range` where the kernel has it, else `pread`/`pwrite`.
unsafe fn copy_buffered(
    input: libc::c_int,
    out: libc::c_int,
    buffer: &mut [u8],
    worker: usize,
) -> i32 {
    let mut kernel_copy = cfg!(target_os = "linux");
    for offset in chunks_of(worker) {
        let mut done = 0usize;
        #[cfg(target_os = "linux")]
        while kernel_copy && done < CHUNK {
            let (mut from, mut to) = (offset + done as i64, offset + done as i64);
            let n =
                unsafe { libc::copy_file_range(input, &mut from, out, &mut to, CHUNK - done, 0) };
            match n {
                0 => return 0,
                n if n > 0 => done += n as usize,
                _ if last_errno() == libc::EINTR => {}
                // Not supported here (another filesystem, an old kernel): on through the
                // buffer from where the kernel stopped.
                _ => kernel_copy = false,
            }
        }
        let _ = &mut kernel_copy;
        if done == CHUNK {
            continue;
        }
        let rest = &mut buffer[..CHUNK - done];
        let at = offset + done as i64;
        let n = match unsafe { pread_full(input, rest, at) } {
            Ok(n) => n,
            Err(()) => return READ_FAILED,
        };
        if unsafe { pwrite_all(out, &rest[..n], at) }.is_err() {
            return WRITE_FAILED;
        }
        if n < rest.len() {
            return 0;
        }
    }
    0
}

/// Fills `buffer` from `offset` unless the end of the file comes first: the bytes read.
unsafe fn pread_full(fd: libc::c_int, buffer: &mut [u8], offset: i64) -> Result<usize, ()> {
    let mut filled = 0;
    while filled < buffer.len() {
        let rest = &mut buffer[filled..];
        let n = unsafe {
            libc::pread(
                fd,
                rest.as_mut_ptr().cast(),
                rest.len(),
                (offset + filled as i64) as libc::off_t,
            )
        };
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

    /// Every worker's share, one after the other, in this process.
    unsafe fn direct(out: libc::c_int, from: &Path, to: &Path, buffer: &mut [u8]) -> i32 {
        let cstr = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
        let input = unsafe { libc::open(cstr(from).as_ptr(), libc::O_RDONLY) };
        let direct = open_direct(&cstr(to));
        // Where the filesystem refuses direct I/O, `out` takes every chunk: the same bytes.
        let direct = if direct >= 0 { direct } else { out };
        (0..WORKERS)
            .map(|worker| unsafe { copy_direct(input, direct, out, buffer, worker) })
            .fold(0, i32::max)
    }

    unsafe fn buffered(out: libc::c_int, from: &Path, _: &Path, buffer: &mut [u8]) -> i32 {
        let from = CString::new(from.as_os_str().as_bytes()).unwrap();
        let input = unsafe { libc::open(from.as_ptr(), libc::O_RDONLY) };
        (0..WORKERS)
            .map(|worker| unsafe { copy_buffered(input, out, buffer, worker) })
            .fold(0, i32::max)
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
        assert!(
            err.to_string().contains("could not open the database"),
            "{err}"
        );
        assert_eq!(fs::metadata(&to).unwrap().len(), 0);
    }

    #[test]
    fn the_test_process_can_learn_how_its_children_ended() {
        assert!(exits_are_reported());
    }

    #[test]
    fn a_child_copies_the_whole_file_and_is_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from.db"), dir.path().join("to.db"));
        let data = source_bytes();
        fs::write(&from, &data).unwrap();
        let out = File::create(&to).unwrap();
        let child = ChildCopy::start(&from, &out, &to).unwrap();
        let pids = child.pids;
        child.finish().unwrap();
        assert!(fs::read(&to).unwrap() == data, "the copy differs");
        // Reaped: no such child any more.
        for pid in pids {
            let waited = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
            assert_eq!(waited, -1);
        }
    }

    /// A parent SIGKILLed mid-copy takes its copying children with it. The children copy from
    /// a FIFO nobody writes to, so they block in `open` until the end of the test: a child
    /// that outlived its parent would be released below and exit on its own (pread fails).
    #[cfg(target_os = "linux")]
    #[test]
    fn copying_children_die_when_their_parent_is_killed() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let (fifo, to) = (dir.path().join("fifo.db"), dir.path().join("to.db"));
        let cstr = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
        let (source, target) = (cstr(&fifo), cstr(&to));
        assert_eq!(unsafe { libc::mkfifo(source.as_ptr(), 0o600) }, 0);
        let out = File::create(&to).unwrap();
        let buffers: Vec<Buffer> = (0..WORKERS).map(|_| Buffer::new().unwrap()).collect();
        // Orphans of this process's descendants become its children: the copying children,
        // once their parent is gone, can be waited for here.
        assert_eq!(
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
            0
        );
        let mut pipe = [0; 2];
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        let mut copy = ChildCopy {
            pids: [0; WORKERS],
            failed: None,
            _buffers: Vec::new(),
        };
        // The parent of the copy: a forked process that starts the children (no allocation,
        // see `spawn`), writes their pids to the pipe and waits to be killed.
        let parent = unsafe { libc::fork() };
        assert!(parent >= 0);
        if parent == 0 {
            unsafe {
                if copy
                    .spawn(&source, &target, out.as_raw_fd(), &buffers)
                    .is_err()
                {
                    libc::_exit(1);
                }
                let size = std::mem::size_of_val(&copy.pids);
                libc::write(pipe[1], copy.pids.as_ptr().cast(), size);
                loop {
                    libc::pause();
                }
            }
        }
        unsafe { libc::close(pipe[1]) };
        let mut bytes = [0u8; WORKERS * 4];
        let mut from_parent =
            unsafe { <File as std::os::unix::io::FromRawFd>::from_raw_fd(pipe[0]) };
        from_parent.read_exact(&mut bytes).unwrap();
        let children: Vec<libc::pid_t> = bytes
            .chunks(4)
            .map(|b| libc::pid_t::from_ne_bytes(b.try_into().unwrap()))
            .collect();
        assert!(children.iter().all(|&pid| pid > 0), "{children:?}");

        unsafe { libc::kill(parent, libc::SIGKILL) };
        let mut status = 0;
        assert_eq!(unsafe { libc::waitpid(parent, &mut status, 0) }, parent);
        assert!(libc::WIFSIGNALED(status));

        for pid in children {
            let status = loop {
                // A child still blocked in `open` is released (a writer comes and goes): it
                // fails to read and exits with its own code.
                let writer = unsafe {
                    libc::open(
                        source.as_ptr(),
                        libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
                    )
                };
                if writer >= 0 {
                    unsafe { libc::close(writer) };
                }
                let mut status = 0;
                let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                assert!(
                    waited >= 0,
                    "child {pid} is not ours: {}",
                    io::Error::last_os_error()
                );
                if waited == pid {
                    break status;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            let killed = libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL;
            let too_late = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == PARENT_GONE;
            assert!(
                killed || too_late,
                "child {pid} outlived its parent (wait status {status})"
            );
        }
        // Nothing was copied.
        assert_eq!(fs::metadata(&to).unwrap().len(), 0);
    }
}
