//! The real `tidings` binary, run as a user would: a temporary config and data directory,
//! `--listen 127.0.0.1:0`, the bound address read from its JSON log, and helpers to read its
//! output feeds over HTTP.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BINARY: &str = env!("CARGO_BIN_EXE_tidings");

/// A temporary home for one tidings instance: `feeds.toml` and `data/`.
pub struct Workspace {
    pub directory: tempfile::TempDir,
}

impl Workspace {
    pub fn new(config: &str) -> Workspace {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("feeds.toml"), config).unwrap();
        Workspace { directory }
    }

    pub fn config_path(&self) -> PathBuf {
        self.directory.path().join("feeds.toml")
    }

    pub fn data_path(&self) -> PathBuf {
        self.directory.path().join("data")
    }

    /// Runs a one-shot command (`check`, `poll`, `status`) and returns its output.
    pub async fn command(&self, arguments: &[&str]) -> Output {
        Command::new(BINARY)
            .args(arguments)
            .arg("--config")
            .arg(self.config_path())
            .envs(data_env(&self.data_path()))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap()
    }

    /// Runs `tidings poll`, asserts it exited 0, and returns what it printed.
    pub async fn poll(&self) -> String {
        let output = self.command(&["poll"]).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `tidings status --json`, one value per feed.
    pub async fn status(&self) -> Vec<serde_json::Value> {
        let output = self.command(&["status", "--json"]).await;
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "status --json printed no JSON ({error}): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    }

    /// Starts `tidings run` and waits until it serves `/healthz`.
    pub async fn start_daemon(&self) -> Daemon {
        self.start_daemon_with_env(&[]).await
    }

    /// Starts `tidings run` with extra environment variables and waits until it serves
    /// `/healthz`.
    pub async fn start_daemon_with_env(&self, env: &[(&str, &str)]) -> Daemon {
        let mut child = Command::new(BINARY)
            .envs(env.iter().copied())
            .args(["--log-format", "json", "run", "--listen", "127.0.0.1:0"])
            .arg("--config")
            .arg(self.config_path())
            .arg("--data")
            .arg(self.data_path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (address_sender, address_receiver) = tokio::sync::oneshot::channel::<String>();
        let log_writer = Arc::clone(&log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut address_sender = Some(address_sender);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && event["message"] == "tidings is running"
                    && let Some(address) = event["address"].as_str()
                    && let Some(sender) = address_sender.take()
                {
                    let _ = sender.send(address.to_string());
                }
                log_writer.lock().unwrap().push(line);
            }
        });
        let address = tokio::time::timeout(Duration::from_secs(30), address_receiver)
            .await
            .unwrap_or_else(|_| {
                panic!("tidings did not start; its log: {:#?}", log.lock().unwrap())
            })
            .unwrap_or_else(|_| {
                panic!(
                    "tidings exited at start; its log: {:#?}",
                    log.lock().unwrap()
                )
            });
        let daemon = Daemon {
            child,
            base: format!("http://{address}"),
            log,
            client: tidings::fetch::build_client(Duration::from_secs(10)).unwrap(),
        };
        let health = wait_for(Duration::from_secs(20), || async {
            daemon
                .get("/healthz")
                .await
                .ok()
                .filter(|(status, _)| *status == 200)
        })
        .await;
        assert!(health.is_some(), "tidings never answered /healthz");
        daemon
    }
}

fn data_env(data: &Path) -> Vec<(&'static str, String)> {
    vec![("TIDINGS_DATA", data.display().to_string())]
}

/// A running `tidings run`; killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub log: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

impl Daemon {
    /// GET a path; returns the status and body.
    pub async fn get(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// The entries of an output feed, parsed with feed-rs: (id, title, link).
    pub async fn entries(&self, path: &str) -> Vec<(String, String, String)> {
        let (status, body) = self.get(path).await.unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        let feed = feed_rs::parser::parse(body.as_bytes())
            .unwrap_or_else(|error| panic!("{path} is not a valid feed ({error}): {body}"));
        feed.entries
            .into_iter()
            .map(|entry| {
                (
                    entry.id,
                    entry.title.map(|title| title.content).unwrap_or_default(),
                    entry
                        .links
                        .first()
                        .map(|link| link.href.clone())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    pub async fn titles(&self, path: &str) -> Vec<String> {
        self.entries(path)
            .await
            .into_iter()
            .map(|(_, title, _)| title)
            .collect()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("the daemon is running");
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("tidings did not exit within 30 s of SIGTERM")
            .unwrap()
    }

    /// Sends a signal (`"TERM"`, `"INT"`, `"HUP"`...) to the daemon.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("the daemon is running");
        let sent = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name} {pid} failed");
    }

    /// Waits for the daemon to exit (at most `limit`) and returns its status.
    pub async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("tidings did not exit within {limit:?}"))
            .unwrap()
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

/// Polls `probe` every 100 ms until it returns `Some`, for at most `limit`.
pub async fn wait_for<T, F, Fut>(limit: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
