//! Browser test of the supervisors' console, end to end through the real programs:
//!
//! 1. `zhichao demo` fills a data directory (the county's day: units, weighings, alerts, a
//!    roadside case with photos, a notice answered and accepted, and a site inspection whose
//!    response awaits the office's review);
//! 2. `zhichao serve` serves it on 127.0.0.1 (with the township names the demo wrote), and `zhichao admin add-supervisor` gives the
//!    county office's supervisor a console password;
//! 3. Debian's `chromium`, driven by `playwright-core` (`tests/browser/console.mjs`), logs in,
//!    opens the alert the patrol closed, the case it led to with its photos and change
//!    history, and returns the ceramics plant's response with a reason;
//! 4. the plant's phone (the mobile facade the apps run) syncs and sees the returned review.
//!
//! Screenshots of every page land in `<target>/tmp/console-screenshots/`.
//!
//! Needs `node`, `/usr/bin/chromium` (or `$CHROMIUM`) and `npm ci --prefix
//! sync-server/tests/browser` (`.ci/run` installs all three). Without them the test says it
//! skipped — except under CI (`CI` set), where it fails with what is missing.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_lite::future::block_on;
use zhichao_mobile::{ApiError, FieldStore, ReviewDecision, SecretStore};
use zhichao_server::api::{CreateEnrollmentRequest, PrincipalSpec, Role};
use zhichao_server::client::AdminClient;

const ZHICHAO: &str = env!("CARGO_BIN_EXE_zhichao");
const SUPERVISOR: &str = "supervisor:zhao";
const PASSWORD: &str = "浏览器测试-console-2026";
const REASON: &str = "请补充显示屏恢复显示后的现场照片";

/// What the browser test needs, or why it cannot run.
fn browser_setup() -> Result<(PathBuf, PathBuf), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (Debian/npm: nodejs)".to_owned());
    }
    if !chromium.exists() {
        missing.push(format!("{} (apt-get install chromium)", chromium.display()));
    }
    if !dir.join("node_modules/playwright-core").exists() {
        missing.push(format!(
            "playwright-core (npm ci --prefix {})",
            dir.display()
        ));
    }
    if missing.is_empty() {
        Ok((dir, chromium))
    } else {
        Err(missing.join(", "))
    }
}

/// A child process killed when dropped (the server, if an assertion fails first).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The host's secret store, in memory.
#[derive(Debug, Default)]
struct MemorySecrets(Mutex<Option<String>>);

impl SecretStore for MemorySecrets {
    fn load(&self) -> Result<Option<String>, ApiError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }
    fn save(&self, secret: String) -> Result<(), ApiError> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(secret);
        Ok(())
    }
    fn clear(&self) -> Result<(), ApiError> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }
}

/// The demo's summary facts the test drives the browser with.
#[derive(Debug)]
struct DemoFacts {
    closed_alert: String,
    notice_id: String,
    response_id: String,
    ceramics_uscc: String,
}

fn demo_facts(summary: &str) -> DemoFacts {
    let closed_alert = summary
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("alert ")
                .and_then(|rest| rest.strip_suffix(" closed with the case"))
        })
        .unwrap_or_else(|| panic!("no closed alert in the demo's summary:\n{summary}"))
        .to_owned();
    // "Site inspection N at UNIT (document D): notice X, response Y awaits the office's review"
    let inspection = summary
        .lines()
        .find(|l| l.starts_with("Site inspection "))
        .unwrap_or_else(|| panic!("no site inspection in the demo's summary:\n{summary}"));
    let word_after = |key: &str| {
        inspection
            .split(key)
            .nth(1)
            .and_then(|rest| rest.split([',', ' ']).next())
            .unwrap_or_else(|| panic!("no {key:?} in {inspection:?}"))
            .to_owned()
    };
    let ceramics_uscc = summary
        .lines()
        .filter(|l| l.contains("凤城陶瓷"))
        .filter_map(|l| l.split_whitespace().next())
        .find(|code| code.len() == 18)
        .unwrap_or_else(|| panic!("no ceramics plant in the demo's summary:\n{summary}"))
        .to_owned();
    DemoFacts {
        closed_alert,
        notice_id: word_after("notice "),
        response_id: word_after("response "),
        ceramics_uscc,
    }
}

#[test]
fn a_supervisor_reviews_the_demo_day_in_a_browser() {
    let (browser_dir, chromium) = match browser_setup() {
        Ok(found) => found,
        Err(missing) if std::env::var_os("CI").is_some() => {
            panic!("the console's browser test needs: {missing} (.ci/run installs them)")
        }
        Err(missing) => {
            eprintln!("skipped: the console's browser test needs {missing}");
            return;
        }
    };
    let tmp = tempfile::tempdir().expect("temporary directory");
    let demo_dir = tmp.path().join("demo");

    // 1. The demo's day.
    let demo = Command::new(ZHICHAO)
        .args(["demo", "--seed", "11", "--dir"])
        .arg(&demo_dir)
        .output()
        .expect("zhichao demo runs");
    let summary = String::from_utf8_lossy(&demo.stdout).into_owned();
    assert!(
        demo.status.success(),
        "zhichao demo failed:\n{summary}\n{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let facts = demo_facts(&summary);

    // 2. The server on the demo's data, and a console password for the county office.
    let admin_token = format!("browser-test-admin-token-{}", std::process::id());
    let mut server = Killed(
        Command::new(ZHICHAO)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(demo_dir.join(zhichao_server::demo::CONFIG_FILE))
            .arg("--data-dir")
            .arg(demo_dir.join("server"))
            .env("ZHICHAO_ADMIN_TOKEN", &admin_token)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("zhichao serve starts"),
    );
    let mut first = String::new();
    BufReader::new(server.0.stdout.take().expect("piped stdout"))
        .read_line(&mut first)
        .expect("the server's first line");
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line of zhichao serve: {first:?}"));
    let url = format!("http://{addr}");
    let mut add = Command::new(ZHICHAO)
        .args([
            "admin",
            "add-supervisor",
            "--server",
            &url,
            "--name",
            SUPERVISOR,
            "--password-stdin",
        ])
        .env("ZHICHAO_ADMIN_TOKEN", &admin_token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zhichao admin add-supervisor runs");
    add.stdin
        .take()
        .expect("piped stdin")
        .write_all(PASSWORD.as_bytes())
        .expect("password written");
    let added = add.wait_with_output().expect("add-supervisor ends");
    assert!(
        added.status.success(),
        "add-supervisor failed: {}{}",
        String::from_utf8_lossy(&added.stdout),
        String::from_utf8_lossy(&added.stderr)
    );

    // 3. The browser.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let browser = Command::new("node")
        .arg(browser_dir.join("console.mjs"))
        .current_dir(&browser_dir)
        .env("BASE_URL", &url)
        .env("ACCOUNT", SUPERVISOR)
        .env("PASSWORD", PASSWORD)
        .env("ALERT_ID", &facts.closed_alert)
        .env("NOTICE_ID", &facts.notice_id)
        .env("RESPONSE_ID", &facts.response_id)
        .env("REASON", REASON)
        .env("OUT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs the browser script");
    let log = String::from_utf8_lossy(&browser.stdout).into_owned();
    assert!(
        browser.status.success(),
        "the browser script failed:\n{log}\n{}",
        String::from_utf8_lossy(&browser.stderr)
    );
    eprintln!("{log}");
    let taken = std::fs::read_dir(&shots).map_or(0, Iterator::count);
    assert!(
        taken >= 6,
        "only {taken} screenshots in {}",
        shots.display()
    );

    // 4. The plant's phone sees the returned review after a sync.
    let admin = AdminClient::new(&url, &admin_token).expect("admin client");
    let device = format!("browser-test-fengcheng-{}", std::process::id());
    let code = admin
        .create_enrollment(&CreateEnrollmentRequest {
            principal: PrincipalSpec {
                role: Role::Enterprise,
                name: "enterprise:fengcheng".to_owned(),
                team: None,
                scope: None,
                unit: Some(facts.ceramics_uscc.clone()),
            },
            device: device.clone(),
            ttl: None,
        })
        .expect("enrollment code")
        .code;
    let secrets = Arc::new(MemorySecrets::default());
    block_on(zhichao_mobile::enroll(
        url.clone(),
        code,
        device,
        Arc::clone(&secrets) as Arc<dyn SecretStore>,
    ))
    .expect("the plant's phone enrolls");
    let phone = FieldStore::open(
        tmp.path().join("fengcheng").display().to_string(),
        url,
        secrets as Arc<dyn SecretStore>,
    )
    .expect("the plant's phone opens");
    let mut reviews = Vec::new();
    for _ in 0..20 {
        block_on(phone.sync_now()).expect("the plant's phone syncs");
        reviews = phone.reviews(facts.response_id.clone()).unwrap_or_default();
        if !reviews.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let review = reviews
        .first()
        .unwrap_or_else(|| panic!("the plant's phone has no review of {}", facts.response_id));
    assert_eq!(review.reviewer, SUPERVISOR);
    match &review.decision {
        ReviewDecision::Return { reasons } => {
            assert!(reasons.iter().any(|r| r == REASON), "{reasons:?}");
        }
        other => panic!("the response was not returned: {other:?}"),
    }
}
