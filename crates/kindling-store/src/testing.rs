//! Test support, behind the `testing` feature: a real one-member etcd (Debian's `etcd-server`,
//! scripts/setup.sh installs it; `KINDLING_ETCD` names another binary) on free local ports with
//! its own data directory, killed when dropped. The store's etcd suite, the API server's and
//! the node's tests and `kindling-bench ha` all start theirs here.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// One etcd member for a test or a benchmark.
pub struct EtcdServer {
    child: Option<Child>,
    dir: PathBuf,
    /// `http://127.0.0.1:<port>`: what clients dial.
    pub client_url: String,
    peer_url: String,
}

impl EtcdServer {
    /// Starts a member; a missing binary is an error that says how to get it.
    pub fn try_start() -> io::Result<EtcdServer> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kindling-etcd-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let mut server = EtcdServer {
            child: None,
            dir,
            client_url: format!("http://127.0.0.1:{}", free_port()?),
            peer_url: format!("http://127.0.0.1:{}", free_port()?),
        };
        server.spawn()?;
        Ok(server)
    }

    /// [`EtcdServer::try_start`] for tests: a failure is a failed test.
    pub fn start() -> EtcdServer {
        Self::try_start().expect("starting etcd for the test")
    }

    fn spawn(&mut self) -> io::Result<()> {
        let binary = etcd_binary()?;
        let child = Command::new(&binary)
            .args(["--name", "test"])
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args(["--listen-client-urls", &self.client_url])
            .args(["--advertise-client-urls", &self.client_url])
            .args(["--listen-peer-urls", &self.peer_url])
            .args(["--initial-advertise-peer-urls", &self.peer_url])
            .args(["--initial-cluster", &format!("test={}", self.peer_url)])
            .args(["--log-level", "error", "--logger", "zap"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {binary}: {e}")))?;
        self.child = Some(child);
        Ok(())
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
        self.spawn().expect("restarting etcd");
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The etcd binary, or an error that says how to get it.
fn etcd_binary() -> io::Result<String> {
    let binary = std::env::var("KINDLING_ETCD").unwrap_or_else(|_| "etcd".to_string());
    let found = binary.contains('/') && Path::new(&binary).exists()
        || std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(&binary).exists()));
    if !found {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "tests on etcd need the `etcd` binary: run scripts/setup.sh (it installs Debian's \
             etcd-server) or set KINDLING_ETCD",
        ));
    }
    Ok(binary)
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
