//! A real etcd for the suite: Debian's `etcd-server` (scripts/setup.sh installs it), one member
//! per test on free local ports with its own data directory, killed when the test ends.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

pub struct EtcdServer {
    child: Option<Child>,
    dir: TempDir,
    pub client_url: String,
    peer_url: String,
}

impl EtcdServer {
    pub fn start() -> EtcdServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let client_url = format!("http://127.0.0.1:{}", free_port());
        let peer_url = format!("http://127.0.0.1:{}", free_port());
        let mut server = EtcdServer {
            child: None,
            dir,
            client_url,
            peer_url,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let binary = etcd_binary();
        let child = Command::new(&binary)
            .args(["--name", "test"])
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &self.client_url])
            .args(["--advertise-client-urls", &self.client_url])
            .args(["--listen-peer-urls", &self.peer_url])
            .args(["--initial-advertise-peer-urls", &self.peer_url])
            .args(["--initial-cluster", &format!("test={}", self.peer_url)])
            .args(["--log-level", "error", "--logger", "zap"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {binary}: {error}"));
        self.child = Some(child);
    }

    /// `kill -9`: no chance to flush anything that was not already durable.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the member again on the same data and ports.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The etcd binary, or a failed test that says how to get it.
fn etcd_binary() -> String {
    let binary = std::env::var("KINDLING_ETCD").unwrap_or_else(|_| "etcd".to_string());
    let found = binary.contains('/') && Path::new(&binary).exists()
        || std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(&binary).exists()));
    assert!(
        found,
        "the etcd backend's tests need the `etcd` binary: run scripts/setup.sh (it installs \
         Debian's etcd-server) or set KINDLING_ETCD"
    );
    binary
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
