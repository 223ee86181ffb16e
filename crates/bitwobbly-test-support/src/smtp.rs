//! A real SMTP server: `python3 -m aiosmtpd` on loopback, saving each message into a Maildir
//! (feature `smtp`; needs `python3 -m pip install aiosmtpd`).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the server may take to start, and a wait for messages may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// A running aiosmtpd; killed when dropped.
#[derive(Debug)]
pub struct Smtp {
    /// Its port on `127.0.0.1`.
    pub port: u16,
    maildir: tempfile::TempDir,
    child: tokio::process::Child,
}

/// A free port on loopback (bound then released; the server binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Smtp {
    /// Starts aiosmtpd on loopback; `extra` adds arguments (e.g. a TLS certificate).
    ///
    /// # Panics
    ///
    /// When python3 with aiosmtpd is missing or the server does not start listening.
    pub async fn start(extra: &[&str]) -> Self {
        let maildir = tempfile::tempdir().expect("maildir");
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir(maildir.path().join(sub)).expect("maildir folders");
        }
        let port = free_port();
        let mut child = tokio::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path())
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd is needed (python3 -m pip install aiosmtpd)");
        let start = tokio::time::Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("aiosmtpd exited at start ({status}); is it installed?");
            }
            assert!(
                start.elapsed() < DEADLINE,
                "aiosmtpd did not start listening"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            port,
            maildir,
            child,
        }
    }

    /// The messages received so far, raw, in arrival order.
    pub fn messages(&self) -> Vec<String> {
        read_dir(&self.maildir.path().join("new"))
    }

    /// Waits until at least `n` messages arrived and returns them all.
    ///
    /// # Panics
    ///
    /// When they do not arrive in time.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        let start = tokio::time::Instant::now();
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{n} messages did not reach the SMTP server (got {})",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A message with its header lines unfolded and `\r\n` turned into `\n`.
pub fn unfold(raw: &str) -> String {
    raw.replace("\r\n", "\n")
        .replace("\n ", " ")
        .replace("\n\t", " ")
}

/// Messages sorted by file modification time (arrival), then name.
fn read_dir(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let at = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (at, e.path())
        })
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
        .collect()
}
