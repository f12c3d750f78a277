//! Finding the one process a selector means: by pid, by exact name, or by the TCP
//! port it listens on (`/proc/net/tcp{,6}` socket inode → `/proc/*/fd` links).

use std::collections::BTreeSet;

use super::procfs;
use super::ProcessSelector;
use crate::driver::DriverError;

/// The pid the selector names, or a precondition error saying why there is none or
/// more than one.
pub fn resolve(selector: &ProcessSelector, action: &str) -> Result<u32, DriverError> {
    let refuse = |reason: String| DriverError::precondition(selector.to_string(), action, reason);
    let pid = match selector {
        ProcessSelector::Pid(pid) => {
            match procfs::read_stat(*pid) {
                Some(stat) if stat.state != 'Z' => {}
                Some(_) => return Err(refuse(format!("pid {pid} has exited (zombie)"))),
                None => return Err(refuse(format!("no process has pid {pid}"))),
            }
            *pid
        }
        ProcessSelector::Name(name) => one_of(by_name(name), || {
            format!("no running process is named \"{name}\"")
        })
        .map_err(refuse)?,
        ProcessSelector::Port(port) => by_port(*port).map_err(refuse)?,
    };
    if pid == 0 || pid == 1 {
        return Err(refuse(format!("pid {pid} is the system's init")));
    }
    if pid == std::process::id() {
        return Err(refuse(format!("pid {pid} is chaosdeck itself")));
    }
    Ok(pid)
}

/// Exactly one pid, or why not.
fn one_of(pids: Vec<u32>, none: impl FnOnce() -> String) -> Result<u32, String> {
    match pids.as_slice() {
        [] => Err(none()),
        [pid] => Ok(*pid),
        many => Err(format!(
            "{} processes match: {}; pick one with its pid",
            many.len(),
            many.iter()
                .map(|pid| procfs::describe(*pid))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Live processes whose name is exactly `name`. The kernel keeps 15 bytes of a name,
/// so a longer name must also equal the basename of `argv[0]`.
fn by_name(name: &str) -> Vec<u32> {
    let me = std::process::id();
    procfs::pids()
        .into_iter()
        .filter(|pid| *pid != me)
        .filter(|pid| name_matches(*pid, name))
        .filter(|pid| matches!(procfs::read_stat(*pid), Some(s) if s.state != 'Z'))
        .collect()
}

fn name_matches(pid: u32, name: &str) -> bool {
    let Some(comm) = procfs::comm(pid) else {
        return false;
    };
    if comm == name {
        return true;
    }
    name.len() > comm.len()
        && comm.len() >= 15
        && name.starts_with(&comm)
        && procfs::argv0_name(pid).as_deref() == Some(name)
}

/// The process holding the listening socket of TCP `port` on any local address.
/// Pre-forking servers share the socket with their workers; when one holder is the
/// parent of all the others, it is the one meant.
fn by_port(port: u16) -> Result<u32, String> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return Err(format!("nothing listens on TCP port {port}"));
    }
    let holders = socket_holders(&inodes);
    if holders.is_empty() {
        return Err(format!(
            "TCP port {port} is listened on by a process chaosdeck may not inspect \
             (run chaosdeck as that process's user, or as root)"
        ));
    }
    let parent = holders.iter().copied().find(|candidate| {
        holders.iter().all(|other| {
            other == candidate || procfs::read_stat(*other).is_some_and(|s| s.ppid == *candidate)
        })
    });
    match parent {
        Some(pid) => Ok(pid),
        None => one_of(holders, String::new),
    }
}

/// Inodes of the sockets in state LISTEN on `port`, IPv4 and IPv6.
fn listening_inodes(port: u16) -> BTreeSet<u64> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| listening_inode(line, port))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `sl local_address rem_address st … uid timeout inode`: the inode when the line is
/// a listener on `port`.
fn listening_inode(line: &str, port: u16) -> Option<u64> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = fields.get(1)?;
    let local_port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
    const LISTEN: &str = "0A";
    if local_port != port || *fields.get(3)? != LISTEN {
        return None;
    }
    fields.get(9)?.parse().ok().filter(|inode| *inode != 0)
}

/// Pids with an open file descriptor on one of the socket inodes.
fn socket_holders(inodes: &BTreeSet<u64>) -> Vec<u32> {
    let mut holders = Vec::new();
    for pid in procfs::pids() {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let holds = fds.filter_map(Result::ok).any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                socket_inode(&target.to_string_lossy()).is_some_and(|i| inodes.contains(&i))
            })
        });
        if holds {
            holders.push(pid);
        }
    }
    holders
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_line_gives_its_inode() {
        let line = "   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 \
                    00000000  1000        0 424242 1 0000000000000000 100 0 0 10 0";
        assert_eq!(listening_inode(line, 0x1538), Some(424242));
        assert_eq!(listening_inode(line, 80), None);
        let established = line.replacen(" 0A ", " 01 ", 1);
        assert_eq!(listening_inode(&established, 0x1538), None);
    }

    #[test]
    fn ipv6_addresses_end_with_the_port() {
        let line = "   0: 00000000000000000000000000000000:1F90 \
                    00000000000000000000000000000000:0000 0A 00000000:00000000 \
                    00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0";
        assert_eq!(listening_inode(line, 8080), Some(777));
    }

    #[test]
    fn socket_links_are_parsed() {
        assert_eq!(socket_inode("socket:[987]"), Some(987));
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(socket_inode("pipe:[5]"), None);
    }
}
