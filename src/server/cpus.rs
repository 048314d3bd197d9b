//! Where helper threads may run. The executors are pinned one per CPU, and every thread they
//! start inherits that pin: the log's sync thread, the background threads for snapshots and
//! preallocation. Left pinned, a busy executor starves the log writes it waits for, while
//! the other CPU has room (seen with io_uring's io-wq workers, which stay pinned beside the
//! executor that made them). So helper threads are let onto every CPU the process was given.

use std::sync::OnceLock;

static PROCESS_CPUS: OnceLock<Option<libc::cpu_set_t>> = OnceLock::new();

/// Records the CPUs the process may use. Call before the executors start (they narrow their
/// own threads' masks); later calls change nothing.
pub fn remember_process_cpus() {
    PROCESS_CPUS.get_or_init(|| {
        // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most its size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let ok = libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0;
            ok.then_some(set)
        }
    });
}

/// Lets the calling thread run on every CPU of the process.
pub fn unpin_this_thread() {
    let Some(Some(set)) = PROCESS_CPUS.get() else { return };
    // SAFETY: set is a valid cpu_set_t; 0 names the calling thread.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) } != 0 {
        tracing::debug!("could not widen a helper thread's CPU set: {}", std::io::Error::last_os_error());
    }
}
