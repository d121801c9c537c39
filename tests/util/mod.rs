//! Helpers for running the binary against temporary stores.

pub mod http;
pub mod proxy;
pub mod s3;
pub mod slack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use curwatch_schema::Money;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo().join("fixtures").join(rel)
}

/// The shared third-party sample data beside the repository.
pub fn shared_data(rel: &str) -> PathBuf {
    repo().join("..").join("shared").join("data").join(rel)
}

/// A scratch folder with a store inside it.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_curwatch"));
        cmd.arg("--store").arg(self.store()).env_remove("CURWATCH_STORE");
        cmd
    }

    /// Runs curwatch with `args`; panics with its output unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "curwatch {args:?} failed:\n{}", describe(&out));
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("curwatch runs")
    }

    /// Generates exports with `curwatch synth` into a scratch folder named `name`.
    pub fn synth(&self, name: &str, args: &[&str]) -> PathBuf {
        let out = self.path(name);
        let mut all = vec!["synth", "-q", "--out", out.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        self.ok(&all);
        out
    }

    pub fn ingest(&self, source: &Path) -> String {
        self.ok(&["ingest", "-q", source.to_str().expect("utf-8 path")])
    }

    /// `report --format json` parsed into rows.
    pub fn report_json(&self, args: &[&str]) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let mut all = vec!["report", "--format", "json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        let value: serde_json::Value = serde_json::from_str(&text).expect("report JSON parses");
        value.as_array().expect("array").iter().map(|row| row.as_object().expect("object").clone()).collect()
    }
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Exact money from a JSON report cell.
pub fn money(value: &serde_json::Value) -> Money {
    let text = match value {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => panic!("not money: {other}"),
    };
    text.parse().expect("money parses")
}

/// Every file under `dir` with its bytes: two snapshots are equal iff nothing changed.
/// The store's empty `.lock` file (an OS lock, not data) is left out.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).expect("readable") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == ".lock") {
                continue;
            }
            if path.is_dir() {
                out.insert(path.strip_prefix(dir).unwrap().join(""), Vec::new());
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&path).expect("readable"));
            }
        }
    }
    out
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The synth truth file of a generated folder.
pub fn truth(dir: &Path) -> curwatch_synth::Truth {
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).expect("truth.json")).expect("truth parses")
}
