//! The real binary in a real terminal: a private tmux server with one pane, keys sent
//! with `send-keys`, the screen read with `capture-pane`. The server is killed when
//! the guard drops.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server running one command in a pane of a fixed size.
pub struct Tmux {
    socket: String,
    /// The server's socket file, removed with the server.
    socket_path: Option<std::path::PathBuf>,
}

impl Tmux {
    /// Starts `shell_command` (run by `sh -c`) in a `width`×`height` pane.
    pub fn start(shell_command: &str, width: u16, height: u16) -> Tmux {
        let socket = format!("chaosdeck-test-{}-{}", std::process::id(), unique());
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(shell_command)
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux is needed for the console's end-to-end tests: apt-get install tmux (scripts/test installs it)");
        assert!(status.success(), "tmux new-session failed");
        let mut tmux = Tmux {
            socket,
            socket_path: None,
        };
        let path = tmux.run(&["display-message", "-p", "#{socket_path}"]);
        tmux.socket_path =
            Some(path.trim().into()).filter(|p: &std::path::PathBuf| p.is_absolute());
        tmux.run(&["set-option", "-g", "remain-on-exit", "on"]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends tmux key names (`Enter`, `Escape`, `C-c`, `j`). After an `Escape` it
    /// pauses: a terminal program that reads ESC and the next byte together takes
    /// them for one Alt-modified key (ESC then `/` becomes Alt-/), so the next key
    /// would be lost on a busy machine.
    pub fn keys(&self, keys: &[&str]) {
        for group in keys.split_inclusive(|key| *key == "Escape") {
            let mut args = vec!["send-keys", "-t", "0"];
            args.extend_from_slice(group);
            self.run(&args);
            if group.last() == Some(&"Escape") {
                std::thread::sleep(std::time::Duration::from_millis(150));
            }
        }
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "0", "-l", text]);
    }

    /// The process id of the program in the pane (`exec` it to make it the pane's).
    pub fn pane_pid(&self) -> u32 {
        let out = self.run(&["display-message", "-p", "-t", "0", "#{pane_pid}"]);
        out.trim().parse().expect("tmux pane pid")
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }

    /// Waits until `needle` is on screen; panics with the screen after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.wait_until(&format!("\"{needle}\" on screen"), timeout, |s| {
            s.contains(needle)
        })
    }

    /// Waits until the screen satisfies `ok`; panics with `what` and the screen after
    /// `timeout`.
    pub fn wait_until(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("not {what} within {timeout:?}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
