//! A private copy of the local system for tests that break it (crash the consumers, kill the
//! emulator), so they cannot disturb the stack `make test` shares between all other tests:
//! its own emulator (`infra/local/emulator.sh`) on a free port, provisioned from template.yaml
//! (`infra/local/provision.py`), its own search server (osmem, from the venv) and its own dev
//! server (this crate's binary), all stopped on drop. Files in `.local/<name>-<emulator port>/`.

#![allow(dead_code)] // each test binary uses its part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct LocalStack {
    pub root: PathBuf,
    pub name: String,
    pub emulator_port: u16,
    pub api_port: u16,
    pub dir: PathBuf,
    /// The provisioner's stack description (`stack.json`).
    pub stack: Value,
    server: Option<Child>,
    search: Option<Child>,
    search_port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

fn run(root: &Path, what: &str, command: &mut Command, log: &Path) {
    let out = std::fs::File::create(log).expect("creating a log file");
    let status = command
        .current_dir(root)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .status()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        status.success(),
        "{what} failed ({status}); see {}:\n{}",
        log.display(),
        tail(log, 30)
    );
}

/// The last `lines` lines of a file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl LocalStack {
    /// Starts an emulator on a free port and provisions it (no dev server yet).
    pub fn provisioned(name: &str) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = root.canonicalize().expect("the workspace root");
        let emulator_port = free_port();
        let dir = root.join(format!(".local/{name}-{emulator_port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut stack = Self {
            root,
            name: name.to_owned(),
            emulator_port,
            api_port: free_port(),
            dir,
            stack: Value::Null,
            server: None,
            search: None,
            search_port: free_port(),
        };
        stack.start_emulator();
        stack.start_search();
        stack.provision();
        stack
    }

    /// The local search server (the dev server needs one to start; these tests do not search).
    fn start_search(&mut self) {
        let bin = Command::new(".venv/bin/python")
            .current_dir(&self.root)
            .args([
                "-c",
                "import osmem_server; print(osmem_server.resolve_binary())",
            ])
            .output()
            .expect("the venv's python runs");
        assert!(bin.status.success(), "osmem-server is not in the venv");
        let bin = String::from_utf8(bin.stdout).unwrap();
        let log = std::fs::File::create(self.dir.join("search.log")).unwrap();
        let child = Command::new(bin.trim())
            .args(["-addr", &format!("127.0.0.1:{}", self.search_port)])
            .args([
                "-no-stdin-watch",
                "-parent-pid",
                &std::process::id().to_string(),
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting osmem-server");
        self.search = Some(child);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.emulator_port)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("dev-server.log")
    }

    pub fn start_emulator(&self) {
        run(
            &self.root,
            "starting the emulator",
            Command::new("bash").args([
                "infra/local/emulator.sh",
                "start",
                &self.emulator_port.to_string(),
            ]),
            &self.dir.join("emulator.log"),
        );
    }

    pub fn stop_emulator(&self) {
        run(
            &self.root,
            "stopping the emulator",
            Command::new("bash").args([
                "infra/local/emulator.sh",
                "stop",
                &self.emulator_port.to_string(),
            ]),
            &self.dir.join("emulator-stop.log"),
        );
    }

    /// Creates the template's resources in the emulator (again, after a restart: moto keeps
    /// everything in memory) and reads the stack description.
    pub fn provision(&mut self) {
        let out = self.dir.join("stack.json");
        run(
            &self.root,
            "provisioning",
            Command::new(".venv/bin/python")
                .arg("infra/local/provision.py")
                .args(["--endpoint", &self.endpoint()])
                .args(["--stack", &format!("{}{}", self.name, self.emulator_port)])
                .arg("--out")
                .arg(&out)
                // every client of this stack is 127.0.0.1, and the tests write fast
                .args(["--param", "WriteLimitPerIp=0"])
                .args(["--param", "WriteLimitPerUser=0"])
                .arg("--param")
                .arg(format!(
                    "SearchEndpoint=http://127.0.0.1:{}",
                    self.search_port
                ))
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_REGION", "us-east-1"),
            &self.dir.join("provision.log"),
        );
        self.stack = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    }

    /// A variable of the functions' environment (TABLE_NAME, …).
    pub fn env(&self, name: &str) -> String {
        self.stack["env"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is not in the stack environment"))
            .to_owned()
    }

    /// The URL of a queue of the template, by logical id (`NotifierQueue`, `NotifierDLQ`).
    pub fn queue_url(&self, logical_id: &str) -> String {
        self.stack["resources"][logical_id]["url"]
            .as_str()
            .unwrap_or_else(|| panic!("no queue {logical_id} in the stack"))
            .to_owned()
    }

    /// Starts the dev server with these extra environment variables and waits until it answers.
    pub fn start_server(&mut self, env: &[(&str, &str)]) {
        let log = std::fs::File::create(self.log_path()).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_dev-server"));
        command
            .current_dir(&self.root)
            .arg("--stack")
            .arg(self.dir.join("stack.json"))
            .args(["--port", &self.api_port.to_string()])
            .env("RUST_LOG", "info")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            command.env(k, v);
        }
        self.server = Some(command.spawn().expect("starting the dev server"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.api_port)).is_err() {
            if let Some(status) = self.server.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the dev server exited ({status}):\n{}",
                    tail(&self.log_path(), 30)
                );
            }
            assert!(
                Instant::now() < deadline,
                "the dev server did not listen within 60 s:\n{}",
                tail(&self.log_path(), 30)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the dev server started by [`LocalStack::start_server`] still runs.
    pub fn server_running(&mut self) -> bool {
        self.server
            .as_mut()
            .is_some_and(|s| s.try_wait().unwrap().is_none())
    }

    /// Points this process's AWS SDK defaults and the e2e helpers that read the environment
    /// (granting admin, reading mail) at this stack.
    ///
    /// # Safety
    /// Call before any other thread runs (before building the async runtime): it sets
    /// environment variables.
    pub unsafe fn export_env(&self) {
        let table = self.env("TABLE_NAME");
        // SAFETY: the caller guarantees no other thread reads the environment meanwhile.
        unsafe {
            std::env::set_var("AWS_ENDPOINT_URL", self.endpoint());
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
            std::env::set_var("TABLE_NAME", table);
            std::env::set_var("E2E_BASE_URL", self.base_url());
        }
    }

    /// A client of this stack's API (with the emulator for the helpers that need it).
    pub fn ctx(&self) -> e2e::Ctx {
        e2e::Ctx {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: self.base_url(),
            emulator: self.endpoint(),
        }
    }

    /// An AWS SDK configuration for this stack's emulator.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await
    }

    /// Every e-mail the emulator's SES recorded: (to, subject, body).
    pub async fn mails(&self) -> Vec<(String, String, String)> {
        let data: Value = reqwest::get(format!("{}/moto-api/data.json", self.endpoint()))
            .await
            .expect("the emulator answers")
            .json()
            .await
            .expect("data.json is JSON");
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| {
                let to = m["destinations"]["ToAddresses"]
                    .get(0)
                    .or_else(|| m["destinations"].get(0))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let text = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
                (to, text("subject"), text("body"))
            })
            .collect()
    }

    /// The dev server's structured log lines (JSON), each as its `fields`.
    pub fn log_fields(&self) -> Vec<Value> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|mut v| v["fields"].take())
            .collect()
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        for mut child in [self.server.take(), self.search.take()]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("bash")
            .current_dir(&self.root)
            .args([
                "infra/local/emulator.sh",
                "stop",
                &self.emulator_port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if std::thread::panicking() {
            eprintln!(
                "--- last lines of the dev server log ({}) ---\n{}",
                self.log_path().display(),
                tail(&self.log_path(), 40)
            );
        }
    }
}
