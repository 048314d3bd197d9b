//! Process resource limits.
//!
//! A coordination server holds a socket per client, and a load generator one per session. The
//! usual soft limit of open files (1024) would refuse the thousand-and-first; the JVM lifts it
//! to the hard limit for ZooKeeper at start, and zkr does the same for itself.

/// Raises the soft limit of open files to the hard limit. Returns the limit now in force, or
/// None if it could not be read.
pub fn raise_open_files() -> Option<u64> {
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return None;
        }
        if r.rlim_cur < r.rlim_max {
            let want = libc::rlimit { rlim_cur: r.rlim_max, rlim_max: r.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return Some(want.rlim_cur as u64);
            }
            tracing::debug!(soft = r.rlim_cur, hard = r.rlim_max, "could not raise the open files limit");
        }
        Some(r.rlim_cur as u64)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let got = super::raise_open_files().expect("getrlimit");
        // SAFETY: as above.
        let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
        assert_eq!(r.rlim_cur, r.rlim_max);
        assert_eq!(got, r.rlim_cur as u64);
    }
}
