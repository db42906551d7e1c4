//! A local anvil node (the npm package `@foundry-rs/anvil`) for the demo and
//! the end-to-end tests: a real Ethereum node with blob transactions and the
//! beacon blob endpoint, on a free loopback port, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/install-anvil.sh` puts the binary, relative to the repository
/// (a link to the binary of the npm package for this machine's platform).
pub const INSTALLED_PATH: &str = "tools/bin/anvil";

/// Errors starting anvil.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// No anvil binary: not at `$ZKREPLAY_ANVIL`, the installed path, or on PATH.
    #[error("anvil not found: run scripts/install-anvil.sh, or set ZKREPLAY_ANVIL to the binary")]
    NotFound,
    /// The anvil process could not be started.
    #[error("starting anvil {path}: {source}")]
    Spawn {
        /// Binary path.
        path: String,
        /// Spawn error.
        source: std::io::Error,
    },
    /// anvil printed no listening address within the wait; holds the wait.
    #[error("anvil did not report its address within {0:?}")]
    NoAddress(Duration),
}

/// A running anvil.
pub struct Anvil {
    child: Child,
    /// `http://127.0.0.1:PORT`: JSON-RPC and the beacon API.
    pub url: String,
}

impl Anvil {
    /// The anvil binary: `$ZKREPLAY_ANVIL`, the installed copy under `root`, or `anvil` on PATH.
    pub fn binary(root: &Path) -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("ZKREPLAY_ANVIL") {
            return Some(PathBuf::from(path));
        }
        let installed = root.join(INSTALLED_PATH);
        if installed.is_file() {
            return Some(installed);
        }
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("anvil"))
                .find(|p| p.is_file())
        })
    }

    /// Starts anvil on a free port. One slot per epoch makes the `finalized`
    /// tag trail the head by two blocks, so followers can use the default tag.
    pub fn start(root: &Path) -> Result<Self, AnvilError> {
        let path = Self::binary(root).ok_or(AnvilError::NotFound)?;
        let mut child = Command::new(&path)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--slots-in-an-epoch",
                "1",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| AnvilError::Spawn {
                path: path.display().to_string(),
                source,
            })?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Keep draining anvil's log so a full pipe never blocks it.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(addr) = line.strip_prefix("Listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                    sent = true;
                }
            }
        });
        let wait = Duration::from_secs(30);
        let deadline = Instant::now() + wait;
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => break addr,
                Err(_) if Instant::now() > deadline => {
                    let _ = child.kill();
                    return Err(AnvilError::NoAddress(wait));
                }
                Err(_) => continue,
            }
        };
        Ok(Anvil {
            child,
            url: format!("http://{addr}"),
        })
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
