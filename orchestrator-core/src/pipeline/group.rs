//! A step's process group: signalled with a syscall (no `kill(1)`, which minimal images lack),
//! and waited for until no live member remains, so a step leaves no orphan behind.
//!
//! Each command leads its own group (see `run_command`), and everything it starts inherits the
//! group unless it leaves on purpose (`setsid`). "Gone" ignores zombies: an orphan reparented
//! to a PID 1 that never reaps (a container without an init) stays a zombie forever, although
//! it holds nothing and runs nothing.

use std::time::Duration;

/// How often a stopping group is looked at.
const POLL: Duration = Duration::from_millis(10);

/// How long SIGKILL may take to empty a group before the step gives up waiting (a process in
/// uninterruptible sleep, e.g. on a dead NFS mount, dies only when the kernel lets it).
pub const KILL_WAIT: Duration = Duration::from_secs(2);

/// A signal for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSignal {
    /// Asks to stop.
    Term,
    /// Stops.
    Kill,
}

/// Sends `signal` to every process of group `pgid`; a group already gone is not an error.
pub fn signal_group(pgid: u32, signal: GroupSignal) {
    #[cfg(unix)]
    if let Some(pid) = pid_of(pgid) {
        let sig = match signal {
            GroupSignal::Term => rustix::process::Signal::TERM,
            GroupSignal::Kill => rustix::process::Signal::KILL,
        };
        // ESRCH (gone) and EPERM (a member changed user) leave nothing more to do here.
        let _ = rustix::process::kill_process_group(pid, sig);
    }
    #[cfg(not(unix))]
    let _ = (pgid, signal);
}

/// Whether some process of group `pgid` is alive (zombies do not count, where `/proc` says).
pub fn group_alive(pgid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(pid) = pid_of(pgid) else {
            return false;
        };
        if rustix::process::test_kill_process_group(pid).is_err() {
            return false;
        }
        match live_members_from_proc(pgid) {
            Some(n) => n > 0,
            None => true,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pgid;
        false
    }
}

/// Stops group `pgid` if anything of it still runs: SIGTERM, up to `grace` for it to end, then
/// SIGKILL and up to [`KILL_WAIT`]. Returns whether the group is gone.
pub async fn stop_group(pgid: u32, grace: Duration) -> bool {
    if !group_alive(pgid) {
        return true;
    }
    signal_group(pgid, GroupSignal::Term);
    if wait_gone(pgid, grace).await {
        return true;
    }
    kill_group(pgid).await
}

/// SIGKILL to group `pgid`, then up to [`KILL_WAIT`] for it to be gone. Returns whether it is.
pub async fn kill_group(pgid: u32) -> bool {
    signal_group(pgid, GroupSignal::Kill);
    wait_gone(pgid, KILL_WAIT).await
}

/// Waits up to `limit` for group `pgid` to have no live member.
async fn wait_gone(pgid: u32, limit: Duration) -> bool {
    let until = tokio::time::Instant::now() + limit;
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(unix)]
fn pid_of(pgid: u32) -> Option<rustix::process::Pid> {
    i32::try_from(pgid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
}

/// The members of group `pgid` that are not zombies, from `/proc` (Linux); `None` without it.
fn live_members_from_proc(pgid: u32) -> Option<usize> {
    let dir = std::fs::read_dir("/proc").ok()?;
    let mut live = 0;
    let mut seen_any = false;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        seen_any = true;
        // A process may end between the listing and the read: then it is not a member.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((state, group)) = state_and_group(&stat)
            && group == pgid
            && state != 'Z'
            && state != 'X'
        {
            live += 1;
        }
    }
    seen_any.then_some(live)
}

/// The state letter and process group of a `/proc/PID/stat` line. The command name (field 2)
/// may hold spaces and parentheses, so the fields are counted from its last `)`.
fn state_and_group(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let group = fields.next()?.parse().ok()?;
    Some((state, group))
}

/// Whether process `pid` is alive and not a zombie (Linux `/proc`; elsewhere, whether it exists).
pub fn process_alive(pid: u32) -> bool {
    if std::path::Path::new("/proc/self/stat").exists() {
        return std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| state_and_group(&stat))
            .is_some_and(|(state, _)| state != 'Z' && state != 'X');
    }
    #[cfg(unix)]
    {
        pid_of(pid).is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
    }
    #[cfg(not(unix))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_state_and_group_past_a_command_name_with_parentheses() {
        let stat = "4242 (my (odd) cmd) S 1 4240 4240 0 -1 4194560";
        assert_eq!(state_and_group(stat), Some(('S', 4240)));
        assert_eq!(state_and_group("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_made_up_group_is_not() {
        assert!(process_alive(std::process::id()));
        // Group ids are pids; this one is above the kernel's maximum.
        assert!(!group_alive(4_194_305 + 7));
    }
}
