//! A `redis-server` of a test's own, on a free port in a temp dir, for tests that stop,
//! restart or starve it (the machine's shared Redis must not be touched that way).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running (or stopped) private Redis. Killed on drop.
pub struct RedisServer {
    /// Its port.
    pub port: u16,
    dir: tempfile::TempDir,
    aof: bool,
    policy: &'static str,
    child: Option<Child>,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl RedisServer {
    /// Starts one; with `aof`, every write is fsynced before it is acknowledged.
    pub async fn start(aof: bool) -> Self {
        let mut s = Self::stopped(free_port(), aof);
        s.restart().await;
        s
    }

    /// One that is not running yet, to be started later on `port`.
    pub fn stopped(port: u16, aof: bool) -> Self {
        Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            aof,
            policy: "noeviction",
            child: None,
        }
    }

    /// Starts one with this `maxmemory-policy`.
    pub async fn start_with_policy(policy: &'static str) -> Self {
        let mut s = Self::stopped(free_port(), false);
        s.policy = policy;
        s.restart().await;
        s
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Where its data lives.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Starts it (again, on the same port and data) and waits until it answers PING.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--maxmemory-policy", self.policy])
            .arg("--dir")
            .arg(self.dir.path());
        if self.aof {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (install it: apt-get install -y redis-server)");
        let client = ::redis::Client::open(self.url()).unwrap();
        let child = self.child.insert(child);
        let limit = Duration::from_secs(1);
        for _ in 0..200 {
            // Bounded waits: a blocking call without a limit could hang the whole test run.
            if let Ok(mut c) = client.get_connection_with_timeout(limit)
                && c.set_read_timeout(Some(limit)).is_ok()
                && ::redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "redis-server on port {} exited ({status}); is the port taken?",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    /// SIGKILL, as a crash: only what AOF already has survives.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
