//! Who owns a running run: `HOST:PID` of the process that started it. A run is taken for
//! interrupted only when its owner is on this host and that process no longer exists (or
//! when no owner was recorded), so two `kiln run`s sharing a ledger never fail each other.

/// This host's name (`/proc/sys/kernel/hostname`, else `HOSTNAME`, else `localhost`).
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// The owner string of this process.
pub fn current() -> String {
    format!("{}:{}", host(), std::process::id())
}

/// Whether the owner of a running run is known to be gone, seen from `this_host`.
pub fn is_gone(owner: Option<&str>, this_host: &str) -> bool {
    let Some(owner) = owner else {
        return true;
    };
    let Some((host, pid)) = owner.rsplit_once(':') else {
        return true;
    };
    if host != this_host {
        return false;
    }
    match pid.parse::<u32>() {
        Ok(pid) => !process_exists(pid),
        Err(_) => true,
    }
}

/// Whether a process with this id exists. Where that cannot be known (no `/proc`), it is
/// assumed to exist, so a live run is never failed by mistake.
fn process_exists(pid: u32) -> bool {
    let proc_dir = std::path::Path::new("/proc");
    if !proc_dir.join("self").exists() {
        return true;
    }
    proc_dir.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners() {
        let here = host();
        assert!(!is_gone(Some(&current()), &here));
        assert!(is_gone(Some(&format!("{here}:4294967295")), &here));
        assert!(!is_gone(Some("another-host:4294967295"), &here));
        assert!(is_gone(None, &here));
        assert!(is_gone(Some("garbage"), &here));
    }
}
