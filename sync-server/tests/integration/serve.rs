//! `zhichao serve` as a child process on 127.0.0.1:0, and `zhichao admin …` against it.
//!
//! The child is killed by a drop guard and writes to files, so a failing test never leaves a
//! server running or a pipe holding the test open.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const ADMIN: &str = "integration-admin-token-0123456789";

/// A running `zhichao serve`; killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    stderr: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// The built `zhichao` binary, without proxy settings or an admin token from the environment.
pub(crate) fn zhichao() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zhichao"));
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "ZHICHAO_ADMIN_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Starts a server on port 0 in `data`, with output in files under `logs`, and waits for its
/// first line. `None` when it exited first (the caller reads its stderr).
pub(crate) fn start(
    data: &Path,
    logs: &Path,
    admin: Option<&str>,
) -> Result<Server, (Output, String)> {
    let stdout = logs.join("stdout");
    let stderr = logs.join("stderr");
    let mut cmd = zhichao();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("ZHICHAO_LOG", "info")
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap());
    if let Some(token) = admin {
        cmd.env("ZHICHAO_ADMIN_TOKEN", token);
    }
    let child = cmd.spawn().expect("spawn zhichao serve");
    let mut server = Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        stderr,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&stdout).unwrap_or_default();
        if let Some(line) = text.lines().next().filter(|_| text.contains('\n')) {
            let addr = line
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("first line {line:?}"));
            server.addr = addr.parse().expect("an address");
            return Ok(server);
        }
        if let Ok(Some(_)) = server.child.try_wait() {
            let status = server.child.wait().unwrap();
            let log = server.log();
            return Err((
                Output {
                    status,
                    stdout: text.into_bytes(),
                    stderr: log.clone().into_bytes(),
                },
                log,
            ));
        }
        assert!(
            Instant::now() < deadline,
            "no address within 60 s:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn admin(server: &Server, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = zhichao();
    cmd.arg("admin")
        .arg(args[0])
        .args(["--server", &server.url()])
        .args(&args[1..]);
    if let Some(token) = token {
        cmd.env("ZHICHAO_ADMIN_TOKEN", token);
    }
    cmd.output().expect("run zhichao admin")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// An HTTP agent that returns error statuses as answers.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn get(url: &str) -> (u16, String) {
    let mut r = agent().get(url).call().expect("GET");
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

fn post_ticket(server: &Server, token: &str) -> (u16, String) {
    let mut r = agent()
        .post(format!("{}/v1/sync/ticket", server.url()))
        .header("Authorization", format!("Bearer {token}"))
        .send_empty()
        .expect("POST");
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[test]
fn serve_and_admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let server = start(&data, &logs, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
    assert!(data.join("docs").is_dir() && data.join("auth").is_dir());

    let (status, body) = get(&format!("{}/healthz", server.url()));
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"ok\"}"));
    let (status, body) = get(&format!("{}/metrics", server.url()));
    assert_eq!(status, 200);
    assert!(body.contains("zhichao_sync_connections_open 0"), "{body}");

    // issue-token prints only the token.
    let out = admin(
        &server,
        Some(ADMIN),
        &[
            "issue-token",
            "--role",
            "officer",
            "--name",
            "officer:zhang",
            "--team",
            "team-1",
            "--ttl",
            "1h",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let token = stdout.trim_end_matches('\n');
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(token.starts_with("zat_") && token.len() == 68, "{token:?}");
    assert_eq!(post_ticket(&server, token).0, 200);

    // enroll prints only the code.
    let out = admin(
        &server,
        Some(ADMIN),
        &[
            "enroll",
            "--role",
            "source-unit-system",
            "--name",
            "ws:1",
            "--unit",
            "914403001922038216",
            "--device",
            "bridge-1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let code = text(&out.stdout).trim().to_owned();
    assert!(code.starts_with("zec_"), "{code}");

    // list shows ids, never secrets.
    let out = admin(
        &server,
        Some(ADMIN),
        &["list", "--principal", "officer:zhang"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert_eq!(listing.lines().count(), 1, "{listing}");
    assert!(listing.contains("officer:zhang") && !listing.contains(token));

    // revoke prints how many; the token stops working.
    let out = admin(
        &server,
        Some(ADMIN),
        &["revoke", "--principal", "officer:zhang"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1\n");
    let (status, body) = post_ticket(&server, token);
    assert_eq!(status, 401);
    assert!(body.contains("token_revoked"), "{body}");

    // Refusals: no admin token, a wrong one, bad input (exit 2, message on stderr).
    let out = admin(
        &server,
        None,
        &["issue-token", "--role", "admin", "--name", "a"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("ZHICHAO_ADMIN_TOKEN"));
    let out = admin(
        &server,
        Some("not-the-admin-token-0123456789"),
        &["issue-token", "--role", "admin", "--name", "a"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid_token"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let out = admin(
        &server,
        Some(ADMIN),
        &["issue-token", "--role", "officer", "--name", "o"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("needs --team"),
        "{}",
        text(&out.stderr)
    );
    let out = admin(
        &server,
        Some(ADMIN),
        &[
            "issue-token",
            "--role",
            "admin",
            "--name",
            "a",
            "--ttl",
            "soon",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = admin(&server, Some(ADMIN), &["revoke"]);
    assert_eq!(out.status.code(), Some(2), "a target is required");

    // The data directory is locked: a second server on it refuses to start.
    let logs2 = dir.path().join("logs2");
    std::fs::create_dir_all(&logs2).unwrap();
    match start(&data, &logs2, None) {
        Ok(_) => panic!("a second server opened a locked data directory"),
        Err((out, log)) => {
            assert_eq!(out.status.code(), Some(1), "{log}");
            assert!(log.contains("lock"), "{log}");
        }
    }

    // The server's log names paths, never tokens or query strings.
    get(&format!("{}/healthz?ticket=ztk_secret", server.url()));
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log();
    assert!(log.contains("/healthz"), "{log}");
    assert!(
        !log.contains(ADMIN) && !log.contains(token) && !log.contains("ztk_secret"),
        "{log}"
    );
}

#[test]
fn an_unreachable_server_is_an_error() {
    // A port nothing listens on: bind and drop.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = zhichao()
        .args([
            "admin",
            "issue-token",
            "--server",
            &format!("http://{addr}"),
            "--role",
            "admin",
            "--name",
            "a",
        ])
        .env("ZHICHAO_ADMIN_TOKEN", ADMIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach the server"),
        "{}",
        text(&out.stderr)
    );
    let out = zhichao()
        .args([
            "admin",
            "issue-token",
            "--server",
            "https://example.org",
            "--role",
            "admin",
            "--name",
            "a",
        ])
        .env("ZHICHAO_ADMIN_TOKEN", ADMIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serve_refuses_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("zhichao.toml");
    std::fs::write(&config, "listn = \"127.0.0.1:0\"\n").unwrap();
    let out = zhichao()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("listn"), "{}", text(&out.stderr));
    let out = zhichao()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("ZHICHAO_ADMIN_TOKEN", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("short"));
    let out = zhichao()
        .args(["serve", "--listen", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
