//! The Kotlin side of the bindings, from the README's single test command: runs
//! `android/jvm-tests/run.sh`, which generates the Kotlin bindings from the host build of this
//! crate, compiles them with the tests of `android/src/test/kotlin`, starts a real
//! `zhichao serve` and runs the tests on the JVM through JNA.
//!
//! The script's output is inherited, so its `PASS`/`FAIL` lines and the final `N passed,
//! N failed` show in cargo's output (libtest does not capture child processes). When the JVM
//! toolchain is missing (kotlinc, JNA, JUnit: the script's exit code 3) the test says that it
//! skipped and why, except under CI (`CI` set), where it fails: CI must install them (`.ci/run`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// run.sh's exit code for "a prerequisite is missing; nothing was built or run".
const EXIT_MISSING: i32 = 3;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("mobile-bindings lives in the workspace root")
        .to_path_buf()
}

fn script(repo: &Path) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(repo.join("android/jvm-tests/run.sh"))
        .current_dir(repo)
        // The cargo that runs this test builds the workspace for the script, in the same target
        // directory (CARGO_TARGET_DIR is inherited), so it is a no-op after `cargo test`'s build.
        .env("CARGO", env!("CARGO"))
        .stdin(Stdio::null());
    cmd
}

/// Skips (outside CI) or fails (under CI) because of missing prerequisites described by `why`.
fn missing(why: &str) {
    let why = why.trim();
    assert!(
        std::env::var_os("CI").is_none(),
        "the Kotlin JVM tests cannot run: {why}\nCI must install them (see .ci/run and \
         android/README.md)"
    );
    // To the process's stderr itself: libtest captures `eprintln!` of passing tests.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: the Kotlin JVM tests of android/ need what is missing here: {why}"
    );
}

fn describe(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn kotlin_jvm_tests() {
    let repo = repo_root();

    // First the prerequisites alone (quick, output captured), so a skip or a CI failure can say
    // what is missing.
    let check = script(&repo)
        .arg("--check")
        .output()
        .expect("cannot run bash");
    match check.status.code() {
        Some(0) => {}
        Some(EXIT_MISSING) => return missing(&describe(&check)),
        _ => panic!(
            "android/jvm-tests/run.sh --check failed ({}):\n{}",
            check.status,
            describe(&check)
        ),
    }

    let status = script(&repo)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .expect("cannot run bash");
    match status.code() {
        Some(0) => {}
        Some(EXIT_MISSING) => missing("a prerequisite (the script's message above says which)"),
        _ => panic!("the Kotlin JVM tests failed ({status}): see the FAIL lines above"),
    }
}
