//! Reading `/proc`: a process's state, parent, start time, name and command line.
//! Shared by the process faults and the host stressors, which both must never signal
//! a pid the kernel has handed to another process since.

use std::path::Path;

/// The fields of `/proc/<pid>/stat` chaosdeck needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// `R`, `S`, `D`, `T` (stopped), `t` (traced), `Z` (zombie), …
    pub state: char,
    pub ppid: u32,
    /// Field 22: clock ticks after boot. With the pid, it names one process for good.
    pub start_time: u64,
}

/// Reads `/proc/<pid>/stat`; `None` when the process does not exist (any more).
pub fn read_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&read_proc_file(pid, "stat")?)
}

/// Reads `/proc/<pid>/stat` with the process's name (field 2, the kernel's `comm`),
/// in one read: probes call it several times a second.
pub fn read_stat_named(pid: u32) -> Option<(ProcStat, String)> {
    let text = read_proc_file(pid, "stat")?;
    let stat = parse_stat(&text)?;
    let name = text.get(text.find('(')? + 1..text.rfind(')')?)?;
    Some((stat, name.to_string()))
}

/// Reads a small `/proc/<pid>/` file: one `read` into a stack buffer when the file
/// fits (a stat line does), where `read_to_string` makes four calls for it.
fn read_proc_file(pid: u32, name: &str) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(format!("/proc/{pid}/{name}")).ok()?;
    let mut buf = [0u8; 1024];
    let mut len = 0;
    while len < buf.len() {
        let n = file.read(&mut buf[len..]).ok()?;
        len += n;
        // The kernel writes such a file whole in one read, newline last.
        if n == 0 || buf[..len].ends_with(b"\n") {
            return String::from_utf8(buf[..len].to_vec()).ok();
        }
    }
    let mut text = String::from_utf8(buf.to_vec()).ok()?;
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Parses a stat line. The name (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so fields are counted from the last `)`.
fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3 of proc(5), so field N sits at index N - 3.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Whether `pid` is still the process that started at `start_time`, and not a zombie.
pub fn is_same_live(pid: u32, start_time: u64) -> bool {
    matches!(read_stat(pid), Some(s) if s.start_time == start_time && s.state != 'Z')
}

/// The kernel's short name of a process (`/proc/<pid>/comm`, at most 15 bytes).
pub fn comm(pid: u32) -> Option<String> {
    let text = read_proc_file(pid, "comm")?;
    Some(text.trim_end_matches('\n').to_string())
}

/// The command line, arguments joined by spaces; empty for kernel threads.
pub fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The basename of `argv[0]`, which keeps a name the 15-byte `comm` cuts short.
pub fn argv0_name(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let first = raw.split(|b| *b == 0).next()?;
    let first = String::from_utf8_lossy(first);
    let name = Path::new(first.as_ref()).file_name()?.to_string_lossy();
    Some(name.into_owned())
}

/// Every process id in `/proc` (thread-group leaders only, as `/proc` lists them).
pub fn pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// One line naming a process for a person: `1234 (postgres -D /data)`.
pub fn describe(pid: u32) -> String {
    let mut line = cmdline(pid);
    if line.is_empty() {
        line = comm(pid).unwrap_or_default();
    }
    if line.chars().count() > 60 {
        line = line.chars().take(57).collect::<String>() + "...";
    }
    format!("{pid} ({line})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let line = "42 (a) b (c)) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 9876 1 2";
        let stat = parse_stat(line);
        assert_eq!(
            stat,
            Some(ProcStat {
                state: 'S',
                ppid: 7,
                start_time: 9876
            })
        );
    }

    #[test]
    fn a_short_line_is_not_a_stat() {
        assert_eq!(parse_stat("42 (x) S 1 2"), None);
    }

    #[test]
    fn a_named_stat_keeps_parentheses_inside_the_name() {
        let me = std::process::id();
        let (stat, name) = read_stat_named(me).unwrap();
        assert_eq!(Some(stat), read_stat(me));
        assert_eq!(Some(name), comm(me));
    }

    #[test]
    fn our_own_process_reads_as_live() {
        let me = std::process::id();
        let stat = read_stat(me);
        assert!(matches!(stat, Some(s) if is_same_live(me, s.start_time)));
        assert!(pids().contains(&me));
    }
}
