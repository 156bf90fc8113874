//! Helpers for the integration tests: run the real `stance` binary in a fresh temporary directory, and
//! train the shared tiny model once per test binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// A fresh temporary directory for one test.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn write(&self, name: &str, body: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, body).expect("write fixture");
        p
    }

    /// Runs `stance ARGS` in this directory.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_stdin(args, None)
    }

    /// Runs `stance ARGS` with `stdin` as standard input.
    pub fn run_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stance"));
        cmd.args(args)
            .current_dir(self.tmp.path())
            .env_remove("STANCE_MODEL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().expect("spawn stance");
        if let Some(bytes) = stdin {
            use std::io::Write;
            let mut s = child.stdin.take().expect("stdin");
            s.write_all(bytes).expect("write stdin");
        }
        Run(child.wait_with_output().expect("wait for stance"))
    }
}

/// The outcome of one run.
pub struct Run(pub Output);

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> String {
        assert!(
            self.0.status.success(),
            "\n---- expected success, got {:?}\n---- stderr\n{}\n----",
            self.0.status.code(),
            self.stderr()
        );
        self.stdout()
    }

    /// Asserts a clean failure: non-zero exit, one stderr line containing every `needle`, no panic.
    pub fn fails_with(&self, needles: &[&str]) {
        let err = self.stderr();
        assert!(
            !self.0.status.success(),
            "expected failure, stdout:\n{}",
            self.stdout()
        );
        assert!(!err.contains("panicked"), "panic:\n{err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "want one line, got:\n{err}"
        );
        for n in needles {
            assert!(err.contains(n), "\n---- stderr lacks {n:?}\n{err}----");
        }
    }
}

/// The toy fixtures shipped in tests/fixtures.
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A JSON file (config.json, training.json, …), parsed.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("parse json")
}

/// `stance eval --model MODEL --data DATA --format json`, parsed.
pub fn eval_json(dir: &Dir, model: &Path, data: &str) -> serde_json::Value {
    let out = dir
        .run(&[
            "eval",
            "--model",
            &model.display().to_string(),
            "--data",
            data,
            "--format",
            "json",
        ])
        .ok();
    serde_json::from_str(out.trim()).expect("eval prints one JSON object")
}

/// Architecture flags of the tiny test model.
pub const TINY: &[&str] = &[
    "--hidden",
    "32",
    "--layers",
    "1",
    "--heads",
    "2",
    "--intermediate",
    "64",
    "--vocab-size",
    "300",
    "--max-len",
    "24",
    "--batch-size",
    "16",
    "-q",
];

/// Trains the tiny model into `dir/name` with extra flags.
pub fn train_tiny(dir: &Dir, name: &str, extra: &[&str]) -> Run {
    let (train, dev) = (fixture("train.jsonl"), fixture("dev.jsonl"));
    let out = dir.path(name).display().to_string();
    let mut args = vec!["train", "--train", &train, "--dev", &dev, "--out", &out];
    args.extend_from_slice(TINY);
    if !extra.contains(&"--lr") {
        args.extend_from_slice(&["--lr", "3e-3"]);
    }
    args.extend_from_slice(extra);
    dir.run(&args)
}

/// A tiny model trained once for all tests of a test binary.
pub fn shared_model() -> &'static Path {
    static MODEL: OnceLock<(Dir, PathBuf)> = OnceLock::new();
    let (_, path) = MODEL.get_or_init(|| {
        let dir = Dir::new();
        train_tiny(&dir, "model", &["--epochs", "12", "--patience", "0"]).ok();
        let path = dir.path("model");
        (dir, path)
    });
    path
}
