//! The iOS side, as far as Linux can check it: runs `ios/check.sh`, which generates the Swift
//! bindings from the built library and checks that their C header compiles, that every function
//! it declares is exported (so the Swift package would link), and that the module map, the
//! generated Swift, `ios/Package.swift` and `ios/build-xcframework.sh` agree on names. Building
//! the XCFramework and running the XCTest suite need a Mac (`ios/README.md`).
//!
//! The script's output is inherited, not captured: its `N passed, N failed` line shows in every
//! run. It needs `cc` and `nm`: without them the test says it skipped, and fails when `CI` is set.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether `tool` is an executable file in one of the `PATH` directories.
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| is_executable(&dir.join(tool)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("mobile-bindings/ has a parent")
        .to_path_buf()
}

#[test]
fn ios_check_script_passes() {
    let missing: Vec<&str> = ["bash", "cc", "nm", "perl"]
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "ios/check.sh needs {} (Debian: apt-get install gcc binutils perl)",
            missing.join(", ")
        );
        assert!(std::env::var_os("CI").is_none(), "{message}");
        // To the process's stderr itself: libtest captures `eprintln!` of passing tests.
        let _ = writeln!(std::io::stderr(), "skipped: {message}");
        return;
    }

    let root = workspace_root();
    let status = Command::new("bash")
        .arg(root.join("ios/check.sh"))
        .current_dir(&root)
        .env("CARGO", env!("CARGO"))
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .expect("run bash ios/check.sh");
    assert!(
        status.success(),
        "ios/check.sh failed ({status}); its output is above"
    );
}
