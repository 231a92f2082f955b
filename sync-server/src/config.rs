//! [`ServerConfig`]: what `zhichao serve` runs with, from defaults, a TOML file and the
//! environment (in that order, later wins; command-line flags win over all three).
//!
//! A county runs the server on one machine, usually under systemd or in a container, so every
//! setting that differs between installations can come from the environment
//! (`ZHICHAO_LISTEN`, `ZHICHAO_DATA_DIR`, …; see [`ENV_VARS`]). The admin bootstrap token comes
//! *only* from the environment (`ZHICHAO_ADMIN_TOKEN`): a secret does not belong in a file
//! that is copied around. Unknown keys in the file are errors, so a typo does not silently
//! leave a default in force.
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! data_dir = "/var/lib/zhichao"
//! county = "140522"                      # 阳城县
//! allowed_origins = ["https://console.example.org"]
//!
//! [log]
//! format = "json"                        # text | json
//! filter = "info,zhichao_server=debug"   # tracing targets
//!
//! [tokens]
//! access_ttl = "1h"
//! refresh_ttl = "90d"
//! enrollment_ttl = "7d"
//! ticket_ttl = "30s"
//! max_issued_ttl = "365d"
//!
//! [limits]
//! max_message_bytes = 1048576
//! max_body_bytes = 65536
//! max_connections = 10000
//! max_idle_docs = 10000
//! max_tickets = 10000
//! announce_window = 32
//!
//! [blobs]                                # photo blobs (`/v1/blobs/{sha256}`)
//! max_blob_bytes = 67108864              # largest blob, bytes (64 MiB; at most 1 GiB)
//! unreferenced_ttl_hours = 72            # a blob no document references, or an upload
//!                                        # left unfinished, is removed after this long
//! sweep_interval_secs = 600              # how often the sweeper looks
//!
//! [ingest]                               # weighing ingest (`/v1/heartbeats`, alerts)
//! heartbeat_gap = "15m"                  # silence in operating hours that raises an
//!                                        # upload-interrupted alert (1m to 7d)
//! operating_hours = "06:00-22:00"        # China Standard Time; "00:00-24:00" round the clock
//! monitor_interval = "60s"               # how often the monitor looks (1s to 1h)
//!
//! [townships]                            # names of the county's townships (乡镇), shown by
//! 140522100 = "凤城镇"                     # the console instead of their 9-digit codes
//! 140522102 = "润城镇"
//!
//! [rules]                                # the rules in force (RulesConfig; the keys of a
//! id = "yangcheng-2026"                  # `classify --rules` file), published to phones
//! tolerance_kg = 0                       # as the county's `rules` document
//! part_tonne_rounding = "up"
//! subjects = ["vehicle", "driver", "transport_company", "source_unit"]
//! # source_unit_release_fine_yuan = 5000
//! ```
//!
//! Without `[rules]` the national defaults (`national-2016`) are in force. Every rules id put
//! in force is kept in the `rules` document; an id may come back (a rollback) but never with
//! other settings — cases record the id, so the server refuses to start and says which
//! settings differ.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use zhichao_core::jurisdiction::{AdminCode, YANGCHENG_COUNTY};
use zhichao_core::scope::Scope;

use crate::ingest::heartbeats::{OperatingHours, OperatingHoursError};

/// Default listen address: loopback only; a reverse proxy terminates TLS in front.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default county: 阳城县 (140522).
pub const DEFAULT_COUNTY: AdminCode = YANGCHENG_COUNTY;

/// The environment variables read by [`ServerConfig::load`], each overriding the file.
pub const ENV_VARS: [&str; 15] = [
    "ZHICHAO_LISTEN",
    "ZHICHAO_DATA_DIR",
    "ZHICHAO_COUNTY",
    "ZHICHAO_LOG_FORMAT",
    "ZHICHAO_LOG",
    "ZHICHAO_ALLOWED_ORIGINS",
    "ZHICHAO_ACCESS_TTL",
    "ZHICHAO_REFRESH_TTL",
    "ZHICHAO_ENROLLMENT_TTL",
    "ZHICHAO_MAX_MESSAGE_BYTES",
    "ZHICHAO_MAX_BODY_BYTES",
    "ZHICHAO_MAX_CONNECTIONS",
    "ZHICHAO_HEARTBEAT_GAP",
    "ZHICHAO_OPERATING_HOURS",
    "ZHICHAO_ADMIN_TOKEN",
];

/// Shortest admin bootstrap token accepted, in characters: a guessable admin token would
/// open every account.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 24;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("config file {}: {source}", path.display())]
    Parse {
        /// The file (`<string>` when parsed from text).
        path: PathBuf,
        /// The TOML error, with line and column.
        source: Box<toml::de::Error>,
    },
    /// An environment variable has an invalid value.
    #[error("environment variable {name}: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Why (the value is quoted only when it is not a secret).
        reason: String,
    },
    /// A setting has an invalid value.
    #[error("{field}: {reason}")]
    Invalid {
        /// The setting, e.g. `tokens.access_ttl`.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format {other:?} is not text or json")),
        }
    }
}

/// Logging settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// Which events to print, as tracing targets: `info`, `warn,zhichao_server=debug`.
    pub filter: String,
}

/// Lifetimes of the credentials the server issues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenConfig {
    /// Access tokens issued by enrollment and refresh (default 1 h).
    pub access_ttl: Duration,
    /// Refresh tokens (default 90 days): a phone offline longer than this must re-enroll.
    pub refresh_ttl: Duration,
    /// Enrollment codes (default 7 days).
    pub enrollment_ttl: Duration,
    /// WebSocket tickets (default 30 s).
    pub ticket_ttl: Duration,
    /// Longest lifetime an admin may give a token it issues directly (default 365 days).
    pub max_issued_ttl: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            access_ttl: Duration::from_secs(3_600),
            refresh_ttl: Duration::from_secs(90 * 86_400),
            enrollment_ttl: Duration::from_secs(7 * 86_400),
            ticket_ttl: Duration::from_secs(30),
            max_issued_ttl: Duration::from_secs(365 * 86_400),
        }
    }
}

/// Resource limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest WebSocket message accepted, bytes (default 1 MiB). A case document is tens of
    /// kilobytes (photos travel as blobs), and a sync message is applied on the hub's thread:
    /// a bigger one holds every other peer up while automerge applies it.
    pub max_message_bytes: usize,
    /// Largest HTTP request body accepted by the JSON API, bytes (default 64 KiB).
    pub max_body_bytes: usize,
    /// Most concurrent sync connections (default 10 000).
    pub max_connections: usize,
    /// Documents the sync hub keeps in memory when idle (default 10 000).
    pub max_idle_docs: usize,
    /// Most WebSocket tickets outstanding at once (default 10 000).
    pub max_tickets: usize,
    /// Documents discovery syncs at once with one peer on connect (default 32): a phone with
    /// thousands to receive gets them a window at a time.
    pub announce_window: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: zhichao_core::sync::MAX_MESSAGE_BYTES,
            max_body_bytes: 64 * 1024,
            max_connections: 10_000,
            max_idle_docs: 10_000,
            max_tickets: 10_000,
            announce_window: 32,
        }
    }
}

/// Photo blob settings (`[blobs]`; see [`crate::blobs`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobConfig {
    /// Largest blob accepted, bytes (default 64 MiB, at most [`MAX_BLOB_BYTES_LIMIT`]): an
    /// upload declaring more is refused (413) before its body is read.
    pub max_blob_bytes: u64,
    /// How long a complete blob that no accepted document references, or an unfinished
    /// upload, is kept (default 72 h): a photo may arrive before its document, not forever.
    pub unreferenced_ttl: Duration,
    /// How often the sweeper removes what outlived `unreferenced_ttl` (default 600 s).
    pub sweep_interval: Duration,
}

/// The highest `blobs.max_blob_bytes` accepted: 1 GiB.
pub const MAX_BLOB_BYTES_LIMIT: u64 = 1024 * 1024 * 1024;

impl Default for BlobConfig {
    fn default() -> Self {
        BlobConfig {
            max_blob_bytes: 64 * 1024 * 1024,
            unreferenced_ttl: Duration::from_secs(72 * 3_600),
            sweep_interval: Duration::from_secs(600),
        }
    }
}

/// Weighing ingest settings (`[ingest]`; see [`crate::ingest::heartbeats`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestConfig {
    /// Silence of a unit's equipment, counted in operating hours, after which an
    /// upload-interrupted alert (数据上传中断) is raised (default 15 min, 1 min to 7 days).
    pub heartbeat_gap: Duration,
    /// When source units operate (default 06:00-22:00 China Standard Time): silence outside
    /// counts for nothing.
    pub operating_hours: OperatingHours,
    /// How often the monitor looks for silent equipment (default 60 s, 1 s to 1 h).
    pub monitor_interval: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            heartbeat_gap: Duration::from_secs(15 * 60),
            operating_hours: OperatingHours::default(),
            monitor_interval: Duration::from_secs(60),
        }
    }
}

/// A secret: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything the server runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on (default `127.0.0.1:8080`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where the server keeps its data: `docs/` (the document store), `auth/` (tokens),
    /// `log/` (the change log) and `blobs/` (photo blobs).
    pub data_dir: PathBuf,
    /// The county this server serves (default 阳城县 140522): the default scope of new
    /// officers and supervisors and the scope of server documents.
    pub county: Scope,
    /// Logging.
    pub log: LogConfig,
    /// Token lifetimes.
    pub tokens: TokenConfig,
    /// Resource limits.
    pub limits: Limits,
    /// Photo blobs.
    pub blobs: BlobConfig,
    /// Weighing ingest: heartbeats and the upload monitor.
    pub ingest: IngestConfig,
    /// Browser origins allowed to open a sync WebSocket besides the server's own
    /// (e.g. `https://console.example.org`). Clients that send no `Origin` are not browsers.
    pub allowed_origins: Vec<String>,
    /// The admin bootstrap token, from `ZHICHAO_ADMIN_TOKEN` only.
    pub admin_token: Option<Secret>,
    /// The rules in force (`[rules]`, default: the national rules of REFERENCE.md), published
    /// at start as a new version of the county's `rules` document when its id is new.
    pub rules: zhichao_core::rules::RulesConfig,
    /// Names of the county's townships (`[townships]`, code → name), for people: the console
    /// shows `润城镇` rather than `140522102`. A township without a name shows its code.
    pub townships: std::collections::BTreeMap<AdminCode, String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            county: Scope::county(DEFAULT_COUNTY).unwrap_or_else(|_| unreachable!()),
            log: LogConfig {
                format: LogFormat::Text,
                filter: "info".to_owned(),
            },
            tokens: TokenConfig::default(),
            limits: Limits::default(),
            blobs: BlobConfig::default(),
            ingest: IngestConfig::default(),
            allowed_origins: Vec::new(),
            admin_token: None,
            rules: zhichao_core::rules::RulesConfig::default(),
            townships: std::collections::BTreeMap::new(),
        }
    }
}

/// The file as written: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    county: Option<String>,
    allowed_origins: Option<Vec<String>>,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    tokens: RawTokens,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    blobs: RawBlobs,
    #[serde(default)]
    ingest: RawIngest,
    rules: Option<zhichao_core::rules::RulesConfig>,
    townships: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<LogFormat>,
    filter: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    access_ttl: Option<String>,
    refresh_ttl: Option<String>,
    enrollment_ttl: Option<String>,
    ticket_ttl: Option<String>,
    max_issued_ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_message_bytes: Option<usize>,
    max_body_bytes: Option<usize>,
    max_connections: Option<usize>,
    max_idle_docs: Option<usize>,
    max_tickets: Option<usize>,
    announce_window: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlobs {
    max_blob_bytes: Option<u64>,
    unreferenced_ttl_hours: Option<u64>,
    sweep_interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIngest {
    heartbeat_gap: Option<String>,
    operating_hours: Option<String>,
    monitor_interval: Option<String>,
}

/// Checks `[townships]`: each key a township code of `county`, each name 1 to 32 characters
/// without control characters.
fn parse_townships(
    county: &Scope,
    names: std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<AdminCode, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for (code, name) in names {
        let parsed: AdminCode = code
            .parse()
            .map_err(|e| format!("{code:?} is not a township code: {e}"))?;
        if parsed.level() != zhichao_core::jurisdiction::AdminLevel::Township
            || parsed.county() != Some(county.county_code())
        {
            return Err(format!(
                "{code:?} is not a township (9 digits) of the county {}",
                county.county_code()
            ));
        }
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > 32 || name.chars().any(char::is_control) {
            return Err(format!(
                "the name of {code} must have 1 to 32 characters and no control characters"
            ));
        }
        out.insert(parsed, name.to_owned());
    }
    Ok(out)
}

impl ServerConfig {
    /// How people call township `code`: its name from `[townships]`, else `乡镇 <code>`.
    pub fn township_label(&self, code: &AdminCode) -> String {
        self.townships
            .get(code)
            .cloned()
            .unwrap_or_else(|| format!("乡镇 {code}"))
    }

    /// How people call a scope: 全县 for the county, a township by its name (see
    /// [`ServerConfig::township_label`]), a department by its Chinese name.
    pub fn scope_label(&self, scope: &Scope) -> String {
        match scope.part() {
            None => "全县".to_owned(),
            Some(zhichao_core::scope::ScopePart::Township(code)) => self.township_label(&code),
            Some(zhichao_core::scope::ScopePart::Department(d)) => d.chinese_name().to_owned(),
        }
    }

    /// How people call a supervising authority: a township by its name (see
    /// [`ServerConfig::township_label`]), a department by its Chinese name.
    pub fn jurisdiction_label(&self, j: &zhichao_core::jurisdiction::Jurisdiction) -> String {
        match j {
            zhichao_core::jurisdiction::Jurisdiction::Township(code) => self.township_label(code),
            other => other.to_string(),
        }
    }

    /// Defaults, then the file (when given), then the environment read through `env`
    /// (pass `|name| std::env::var(name).ok()`; tests pass a map), then validation.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, key or variable that is wrong.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Self::from_toml_at(&text, path)?
            }
            None => ServerConfig::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Defaults overridden by a TOML text (no environment), validated.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] or [`ConfigError::Invalid`].
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config = Self::from_toml_at(text, Path::new("<string>"))?;
        config.validate()?;
        Ok(config)
    }

    fn from_toml_at(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
        let mut c = ServerConfig::default();
        if let Some(listen) = raw.listen {
            c.listen = parse_listen(&listen).map_err(|reason| ConfigError::Invalid {
                field: "listen",
                reason,
            })?;
        }
        if let Some(dir) = raw.data_dir {
            c.data_dir = dir;
        }
        if let Some(county) = raw.county {
            c.county = parse_county(&county).map_err(|reason| ConfigError::Invalid {
                field: "county",
                reason,
            })?;
        }
        if let Some(origins) = raw.allowed_origins {
            c.allowed_origins = origins;
        }
        if let Some(rules) = raw.rules {
            c.rules = rules;
        }
        if let Some(names) = raw.townships {
            c.townships =
                parse_townships(&c.county, names).map_err(|reason| ConfigError::Invalid {
                    field: "townships",
                    reason,
                })?;
        }
        if let Some(format) = raw.log.format {
            c.log.format = format;
        }
        if let Some(filter) = raw.log.filter {
            c.log.filter = filter;
        }
        let ttl = |field: &'static str, text: Option<String>, slot: &mut Duration| {
            if let Some(text) = text {
                *slot = parse_duration(&text).map_err(|e| ConfigError::Invalid {
                    field,
                    reason: e.to_string(),
                })?;
            }
            Ok::<(), ConfigError>(())
        };
        let t = raw.tokens;
        ttl("tokens.access_ttl", t.access_ttl, &mut c.tokens.access_ttl)?;
        ttl(
            "tokens.refresh_ttl",
            t.refresh_ttl,
            &mut c.tokens.refresh_ttl,
        )?;
        ttl(
            "tokens.enrollment_ttl",
            t.enrollment_ttl,
            &mut c.tokens.enrollment_ttl,
        )?;
        ttl("tokens.ticket_ttl", t.ticket_ttl, &mut c.tokens.ticket_ttl)?;
        ttl(
            "tokens.max_issued_ttl",
            t.max_issued_ttl,
            &mut c.tokens.max_issued_ttl,
        )?;
        let l = raw.limits;
        let limits = &mut c.limits;
        limits.max_message_bytes = l.max_message_bytes.unwrap_or(limits.max_message_bytes);
        limits.max_body_bytes = l.max_body_bytes.unwrap_or(limits.max_body_bytes);
        limits.max_connections = l.max_connections.unwrap_or(limits.max_connections);
        limits.max_idle_docs = l.max_idle_docs.unwrap_or(limits.max_idle_docs);
        limits.max_tickets = l.max_tickets.unwrap_or(limits.max_tickets);
        limits.announce_window = l.announce_window.unwrap_or(limits.announce_window);
        let b = raw.blobs;
        if let Some(bytes) = b.max_blob_bytes {
            c.blobs.max_blob_bytes = bytes;
        }
        if let Some(hours) = b.unreferenced_ttl_hours {
            // Bounded by validation (at most 10 years); saturate rather than overflow here.
            c.blobs.unreferenced_ttl = Duration::from_secs(hours.saturating_mul(3_600));
        }
        if let Some(secs) = b.sweep_interval_secs {
            c.blobs.sweep_interval = Duration::from_secs(secs);
        }
        let i = raw.ingest;
        ttl(
            "ingest.heartbeat_gap",
            i.heartbeat_gap,
            &mut c.ingest.heartbeat_gap,
        )?;
        ttl(
            "ingest.monitor_interval",
            i.monitor_interval,
            &mut c.ingest.monitor_interval,
        )?;
        if let Some(text) = i.operating_hours {
            c.ingest.operating_hours =
                text.parse()
                    .map_err(|e: OperatingHoursError| ConfigError::Invalid {
                        field: "ingest.operating_hours",
                        reason: e.to_string(),
                    })?;
        }
        Ok(c)
    }

    /// Applies the environment overrides in [`ENV_VARS`]; unset or empty variables change
    /// nothing.
    ///
    /// # Errors
    /// [`ConfigError::Env`] for a variable with an invalid value.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let bad = |name: &'static str, value: &str, reason: String| ConfigError::Env {
            name,
            reason: format!("{value:?}: {reason}"),
        };
        if let Some(v) = get("ZHICHAO_LISTEN") {
            self.listen = parse_listen(&v).map_err(|r| bad("ZHICHAO_LISTEN", &v, r))?;
        }
        if let Some(v) = get("ZHICHAO_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("ZHICHAO_COUNTY") {
            self.county = parse_county(&v).map_err(|r| bad("ZHICHAO_COUNTY", &v, r))?;
        }
        if let Some(v) = get("ZHICHAO_LOG_FORMAT") {
            self.log.format = v.parse().map_err(|r| bad("ZHICHAO_LOG_FORMAT", &v, r))?;
        }
        if let Some(v) = get("ZHICHAO_LOG") {
            self.log.filter = v;
        }
        if let Some(v) = get("ZHICHAO_ALLOWED_ORIGINS") {
            self.allowed_origins = v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect();
        }
        let ttl = |name: &'static str, slot: &mut Duration| {
            if let Some(v) = get(name) {
                *slot = parse_duration(&v).map_err(|e| bad(name, &v, e.to_string()))?;
            }
            Ok::<(), ConfigError>(())
        };
        ttl("ZHICHAO_ACCESS_TTL", &mut self.tokens.access_ttl)?;
        ttl("ZHICHAO_REFRESH_TTL", &mut self.tokens.refresh_ttl)?;
        ttl("ZHICHAO_ENROLLMENT_TTL", &mut self.tokens.enrollment_ttl)?;
        let size = |name: &'static str, slot: &mut usize| {
            if let Some(v) = get(name) {
                *slot = v
                    .trim()
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(name, &v, e.to_string()))?;
            }
            Ok::<(), ConfigError>(())
        };
        size(
            "ZHICHAO_MAX_MESSAGE_BYTES",
            &mut self.limits.max_message_bytes,
        )?;
        size("ZHICHAO_MAX_BODY_BYTES", &mut self.limits.max_body_bytes)?;
        size("ZHICHAO_MAX_CONNECTIONS", &mut self.limits.max_connections)?;
        ttl("ZHICHAO_HEARTBEAT_GAP", &mut self.ingest.heartbeat_gap)?;
        if let Some(v) = get("ZHICHAO_OPERATING_HOURS") {
            self.ingest.operating_hours = v.parse().map_err(|e: OperatingHoursError| {
                bad("ZHICHAO_OPERATING_HOURS", &v, e.to_string())
            })?;
        }
        if let Some(v) = get("ZHICHAO_ADMIN_TOKEN") {
            // Never echo the value: it is the admin's password.
            let v = v.trim();
            if v.chars().count() < MIN_ADMIN_TOKEN_CHARS || v.chars().any(char::is_control) {
                return Err(ConfigError::Env {
                    name: "ZHICHAO_ADMIN_TOKEN",
                    reason: format!(
                        "must be at least {MIN_ADMIN_TOKEN_CHARS} printable characters \
                         (e.g. `openssl rand -hex 32`)"
                    ),
                });
            }
            self.admin_token = Some(Secret::new(v));
        }
        Ok(())
    }

    /// Checks the settings against each other and their bounds.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first setting out of bounds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.rules.validate().map_err(|e| ConfigError::Invalid {
            field: "rules",
            reason: e.to_string(),
        })?;
        let invalid = |field: &'static str, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.county.part().is_some() {
            return invalid("county", "must be a county code such as 140522");
        }
        if let Err(e) = self
            .log
            .filter
            .parse::<tracing_subscriber::filter::Targets>()
        {
            return Err(ConfigError::Invalid {
                field: "log.filter",
                reason: e.to_string(),
            });
        }
        let t = &self.tokens;
        for (field, ttl) in [
            ("tokens.access_ttl", t.access_ttl),
            ("tokens.refresh_ttl", t.refresh_ttl),
            ("tokens.enrollment_ttl", t.enrollment_ttl),
            ("tokens.ticket_ttl", t.ticket_ttl),
            ("tokens.max_issued_ttl", t.max_issued_ttl),
        ] {
            if ttl < Duration::from_secs(1) {
                return invalid(field, "must be at least 1s");
            }
        }
        if t.access_ttl > t.refresh_ttl {
            return invalid(
                "tokens.access_ttl",
                "must not be longer than tokens.refresh_ttl",
            );
        }
        if t.ticket_ttl > Duration::from_secs(300) {
            return invalid("tokens.ticket_ttl", "must be at most 5m");
        }
        let l = &self.limits;
        if !(1024..=64 * 1024 * 1024).contains(&l.max_message_bytes) {
            return invalid(
                "limits.max_message_bytes",
                "must be between 1024 and 67108864 (64 MiB)",
            );
        }
        if l.max_body_bytes < 1024 {
            return invalid("limits.max_body_bytes", "must be at least 1024");
        }
        for (field, n) in [
            ("limits.max_connections", l.max_connections),
            ("limits.max_idle_docs", l.max_idle_docs),
            ("limits.max_tickets", l.max_tickets),
            ("limits.announce_window", l.announce_window),
        ] {
            if n == 0 {
                return invalid(field, "must be at least 1");
            }
        }
        let b = &self.blobs;
        if !(1..=MAX_BLOB_BYTES_LIMIT).contains(&b.max_blob_bytes) {
            return invalid(
                "blobs.max_blob_bytes",
                "must be between 1 and 1073741824 (1 GiB)",
            );
        }
        if b.unreferenced_ttl < Duration::from_secs(3_600)
            || b.unreferenced_ttl > Duration::from_secs(87_600 * 3_600)
        {
            return invalid(
                "blobs.unreferenced_ttl_hours",
                "must be between 1 and 87600 (10 years)",
            );
        }
        if b.sweep_interval < Duration::from_secs(1) {
            return invalid("blobs.sweep_interval_secs", "must be at least 1");
        }
        let i = &self.ingest;
        if !(Duration::from_secs(60)..=Duration::from_secs(7 * 86_400)).contains(&i.heartbeat_gap) {
            return invalid("ingest.heartbeat_gap", "must be between 1m and 7d");
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(3_600)).contains(&i.monitor_interval) {
            return invalid("ingest.monitor_interval", "must be between 1s and 1h");
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.trim_end_matches('/') != origin
            {
                return Err(ConfigError::Invalid {
                    field: "allowed_origins",
                    reason: format!(
                        "{origin:?} is not an origin such as https://console.example.org"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The sled directory of the document store.
    pub fn docs_dir(&self) -> PathBuf {
        self.data_dir.join("docs")
    }

    /// The sled directory of the token store.
    pub fn auth_dir(&self) -> PathBuf {
        self.data_dir.join("auth")
    }

    /// The sled directory of the change log (audit and discovery).
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("log")
    }

    /// The photo blobs: `objects/`, `partial/` and their sled metadata `meta/`
    /// (see [`crate::blobs`]).
    pub fn blobs_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }

    /// The weighing ingest's database: records, heartbeats, alerts (see [`crate::ingest`]).
    pub fn ingest_dir(&self) -> PathBuf {
        self.data_dir.join("ingest")
    }
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an address such as 127.0.0.1:8080"))
}

fn parse_county(text: &str) -> Result<Scope, String> {
    let code: AdminCode = text.trim().parse().map_err(|e| format!("{e}"))?;
    Scope::county(code).map_err(|e| e.to_string())
}

/// Why a text is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not `<number><unit>` repeated, e.g. `90s`, `1h30m`, `7d`.
    #[error("{0:?} is not a duration such as 30s, 15m, 1h30m or 7d (units: s m h d w)")]
    Shape(String),
    /// Too long to represent.
    #[error("{0:?} is too long")]
    Overflow(String),
}

/// Parses a duration written as numbers with units: `30s`, `15m`, `1h30m`, `7d`, `2w`.
///
/// # Errors
/// [`DurationError`] for any other text, a missing unit, or overflow.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let shape = || DurationError::Shape(text.chars().take(40).collect());
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(shape());
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in trimmed.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = number
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)))
                .ok_or_else(|| DurationError::Overflow(text.chars().take(40).collect()))?;
            number = Some(n);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(shape()),
        };
        let n = number.take().ok_or_else(shape)?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| DurationError::Overflow(text.chars().take(40).collect()))?;
    }
    if number.is_some() {
        return Err(shape());
    }
    Ok(Duration::from_secs(total))
}

/// Formats a whole-second duration the way [`parse_duration`] reads it: `1h30m`, `7d`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn townships_have_names_for_people() {
        let c = ServerConfig::from_toml_str(
            "[townships]\n140522102 = \" 润城镇 \"\n140522100 = \"凤城镇\"\n",
        )
        .unwrap();
        let runcheng: AdminCode = "140522102".parse().unwrap();
        assert_eq!(c.township_label(&runcheng), "润城镇");
        assert_eq!(
            c.township_label(&"140522105".parse().unwrap()),
            "乡镇 140522105"
        );
        assert_eq!(
            c.jurisdiction_label(&zhichao_core::jurisdiction::Jurisdiction::Township(
                runcheng
            )),
            "润城镇"
        );
        assert_eq!(
            c.scope_label(&Scope::parse("140522/township/140522100").unwrap()),
            "凤城镇"
        );
        assert_eq!(c.scope_label(&c.county), "全县");
        // Not a township of the county, a name too long or with a control character: refused.
        for bad in [
            "[townships]\n140522 = \"阳城县\"\n",
            "[townships]\n110101001 = \"别处\"\n",
            "[townships]\n140522102 = \"\"\n",
            "[townships]\n140522102 = \"润城\\u0007镇\"\n",
            "[townships]\nabc = \"润城镇\"\n",
        ] {
            let e = ServerConfig::from_toml_str(bad).unwrap_err();
            assert!(e.to_string().starts_with("townships:"), "{bad}: {e}");
        }
        let long = format!("[townships]\n140522102 = \"{}\"\n", "镇".repeat(33));
        assert!(ServerConfig::from_toml_str(&long).is_err());
    }

    #[test]
    fn defaults() {
        let c = ServerConfig::load(None, env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.county.to_string(), "140522");
        assert_eq!(c.log.format, LogFormat::Text);
        assert_eq!(c.tokens.ticket_ttl, Duration::from_secs(30));
        assert_eq!(c.docs_dir(), PathBuf::from("./data/docs"));
        assert!(c.admin_token.is_none());
        assert_eq!(c.blobs.max_blob_bytes, 64 * 1024 * 1024);
        assert_eq!(c.blobs.unreferenced_ttl, Duration::from_secs(72 * 3_600));
        assert_eq!(c.blobs.sweep_interval, Duration::from_secs(600));
        assert_eq!(c.blobs_dir(), PathBuf::from("./data/blobs"));
        assert_eq!(c.ingest.heartbeat_gap, Duration::from_secs(900));
        assert_eq!(c.ingest.operating_hours.to_string(), "06:00-22:00");
        assert_eq!(c.ingest.monitor_interval, Duration::from_secs(60));
    }

    #[test]
    fn ingest_settings_are_parsed_and_bounded() {
        let c = ServerConfig::from_toml_str(
            "[ingest]\nheartbeat_gap = \"30m\"\noperating_hours = \"00:00-24:00\"\n\
             monitor_interval = \"10s\"",
        )
        .unwrap();
        assert_eq!(c.ingest.heartbeat_gap, Duration::from_secs(1_800));
        assert_eq!(c.ingest.operating_hours, OperatingHours::ROUND_THE_CLOCK);
        assert_eq!(c.ingest.monitor_interval, Duration::from_secs(10));
        for (text, field) in [
            ("heartbeat_gap = \"soon\"", "ingest.heartbeat_gap"),
            ("heartbeat_gap = \"30s\"", "ingest.heartbeat_gap"),
            ("heartbeat_gap = \"8d\"", "ingest.heartbeat_gap"),
            ("monitor_interval = \"0s\"", "ingest.monitor_interval"),
            ("monitor_interval = \"2h\"", "ingest.monitor_interval"),
            (
                "operating_hours = \"22:00-06:00\"",
                "ingest.operating_hours",
            ),
            ("operating_hours = \"6am-10pm\"", "ingest.operating_hours"),
        ] {
            let e = ServerConfig::from_toml_str(&format!("[ingest]\n{text}")).unwrap_err();
            assert!(
                matches!(e, ConfigError::Invalid { field: f, .. } if f == field),
                "{text}: {e}"
            );
        }
        let e = ServerConfig::from_toml_str("[ingest]\nheartbeat_interval = \"1m\"").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        let c = ServerConfig::load(
            None,
            env(&[
                ("ZHICHAO_HEARTBEAT_GAP", "1h"),
                ("ZHICHAO_OPERATING_HOURS", "07:30-19:00"),
            ]),
        )
        .unwrap();
        assert_eq!(c.ingest.heartbeat_gap, Duration::from_secs(3_600));
        assert_eq!(c.ingest.operating_hours.to_string(), "07:30-19:00");
        let e =
            ServerConfig::load(None, env(&[("ZHICHAO_OPERATING_HOURS", "always")])).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Env {
                    name: "ZHICHAO_OPERATING_HOURS",
                    ..
                }
            ),
            "{e}"
        );
        let e = ServerConfig::load(None, env(&[("ZHICHAO_HEARTBEAT_GAP", "10s")])).unwrap_err();
        assert!(e.to_string().contains("ingest.heartbeat_gap"), "{e}");
    }

    #[test]
    fn blob_settings_are_bounded() {
        for (text, field) in [
            ("max_blob_bytes = 0", "blobs.max_blob_bytes"),
            ("max_blob_bytes = 1073741825", "blobs.max_blob_bytes"),
            ("unreferenced_ttl_hours = 0", "blobs.unreferenced_ttl_hours"),
            (
                "unreferenced_ttl_hours = 18446744073709551615",
                "blobs.unreferenced_ttl_hours",
            ),
            ("sweep_interval_secs = 0", "blobs.sweep_interval_secs"),
        ] {
            let e = ServerConfig::from_toml_str(&format!("[blobs]\n{text}")).unwrap_err();
            assert!(
                matches!(e, ConfigError::Invalid { field: f, .. } if f == field),
                "{text}: {e}"
            );
        }
        let e = ServerConfig::from_toml_str("[blobs]\nmax_blob_byte = 1").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        let c = ServerConfig::from_toml_str("[blobs]\nmax_blob_bytes = 1073741824").unwrap();
        assert_eq!(c.blobs.max_blob_bytes, MAX_BLOB_BYTES_LIMIT);
    }

    #[test]
    fn full_file() {
        let c = ServerConfig::from_toml_str(
            r#"
            listen = "0.0.0.0:9000"
            data_dir = "/var/lib/zhichao"
            county = "140521"
            allowed_origins = ["https://console.example.org"]
            [log]
            format = "json"
            filter = "warn,zhichao_server=debug"
            [tokens]
            access_ttl = "15m"
            refresh_ttl = "30d"
            enrollment_ttl = "1d"
            ticket_ttl = "10s"
            max_issued_ttl = "2w"
            [limits]
            max_message_bytes = 1048576
            max_body_bytes = 4096
            max_connections = 50
            max_idle_docs = 100
            max_tickets = 20
            announce_window = 8
            [blobs]
            max_blob_bytes = 1048576
            unreferenced_ttl_hours = 24
            sweep_interval_secs = 60
            [ingest]
            heartbeat_gap = "20m"
            operating_hours = "05:30-23:00"
            monitor_interval = "30s"
            [rules]
            id = "yangcheng-2026"
            tolerance_kg = 500
            part_tonne_rounding = "up"
            subjects = ["vehicle", "driver", "transport_company", "source_unit"]
            "#,
        )
        .unwrap();
        assert_eq!(c.limits.announce_window, 8);
        assert_eq!(c.blobs.max_blob_bytes, 1_048_576);
        assert_eq!(c.blobs.unreferenced_ttl, Duration::from_secs(86_400));
        assert_eq!(c.blobs.sweep_interval, Duration::from_secs(60));
        assert_eq!(c.ingest.heartbeat_gap, Duration::from_secs(1_200));
        assert_eq!(c.ingest.operating_hours.to_string(), "05:30-23:00");
        assert_eq!(c.ingest.monitor_interval, Duration::from_secs(30));
        assert_eq!(c.rules.id, "yangcheng-2026");
        assert_eq!(c.rules.tolerance_kg, 500);
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.county.to_string(), "140521");
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.tokens.access_ttl, Duration::from_secs(900));
        assert_eq!(c.tokens.max_issued_ttl, Duration::from_secs(14 * 86_400));
        assert_eq!(c.limits.max_body_bytes, 4096);
        assert_eq!(c.limits.max_tickets, 20);
        assert_eq!(c.allowed_origins, ["https://console.example.org"]);
    }

    #[test]
    fn bad_rules_are_refused_at_load() {
        let e = ServerConfig::from_toml_str("[rules]\nid = \"x\"\ntolerence_kg = 1").unwrap_err();
        assert!(e.to_string().contains("tolerence_kg"), "{e}");
        let e = ServerConfig::from_toml_str("[rules]\nid = \"\"").unwrap_err();
        assert!(e.to_string().contains("rules"), "{e}");
    }

    #[test]
    fn file_errors_name_the_key() {
        let e = ServerConfig::from_toml_str("listn = \"x\"").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("listn"), "{e}");
        let e = ServerConfig::from_toml_str("[tokens]\naccess_ttl = \"soon\"").unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Invalid {
                    field: "tokens.access_ttl",
                    ..
                }
            ),
            "{e}"
        );
        let e = ServerConfig::from_toml_str("county = \"140522100\"").unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Invalid {
                field: "county",
                ..
            }
        ));
        let e = ServerConfig::from_toml_str("listen = \"localhost\"").unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Invalid {
                field: "listen",
                ..
            }
        ));
        let e = ServerConfig::from_toml_str("[limits]\nmax_body_bytes = -1").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }));
        let e = ServerConfig::from_toml_str("[log]\nformat = \"xml\"").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }));
        let e = ServerConfig::from_toml_str("[log]\nfilter = \"info,=bogus=\"").unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Invalid {
                    field: "log.filter",
                    ..
                }
            ),
            "{e}"
        );
        let e = ServerConfig::from_toml_str("[tokens]\naccess_ttl = \"100d\"").unwrap_err();
        assert!(
            e.to_string().contains("refresh_ttl"),
            "access outlives refresh: {e}"
        );
        let e = ServerConfig::from_toml_str("[tokens]\nticket_ttl = \"0s\"").unwrap_err();
        assert!(e.to_string().contains("at least 1s"), "{e}");
        let e = ServerConfig::from_toml_str("allowed_origins = [\"console\"]").unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Invalid {
                field: "allowed_origins",
                ..
            }
        ));
        let e = ServerConfig::from_toml_str("listen = [").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }));
    }

    #[test]
    fn file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zhichao.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/a\"\n[log]\nformat = \"json\"\n",
        )
        .unwrap();
        let c = ServerConfig::load(
            Some(&path),
            env(&[
                ("ZHICHAO_LISTEN", "127.0.0.1:0"),
                ("ZHICHAO_DATA_DIR", "/srv/b"),
                ("ZHICHAO_LOG_FORMAT", ""),
                ("ZHICHAO_ACCESS_TTL", "5m"),
                ("ZHICHAO_MAX_MESSAGE_BYTES", "2048"),
                (
                    "ZHICHAO_ALLOWED_ORIGINS",
                    "https://a.example, https://b.example",
                ),
                ("ZHICHAO_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.data_dir, PathBuf::from("/srv/b"));
        assert_eq!(c.log.format, LogFormat::Json, "empty variables are unset");
        assert_eq!(c.tokens.access_ttl, Duration::from_secs(300));
        assert_eq!(c.limits.max_message_bytes, 2048);
        assert_eq!(c.allowed_origins.len(), 2);
        let token = c.admin_token.as_ref().unwrap();
        assert_eq!(token.expose(), "0123456789abcdef0123456789abcdef");
        assert!(
            !format!("{c:?}").contains("0123456789abcdef"),
            "secret hidden"
        );
    }

    #[test]
    fn env_errors_name_the_variable_but_not_secrets() {
        let e = ServerConfig::load(None, env(&[("ZHICHAO_LISTEN", "nowhere")])).unwrap_err();
        assert!(e.to_string().contains("ZHICHAO_LISTEN"), "{e}");
        let e = ServerConfig::load(None, env(&[("ZHICHAO_MAX_CONNECTIONS", "many")])).unwrap_err();
        assert!(e.to_string().contains("many"), "{e}");
        let e = ServerConfig::load(None, env(&[("ZHICHAO_ADMIN_TOKEN", "hunter2")])).unwrap_err();
        assert!(e.to_string().contains("ZHICHAO_ADMIN_TOKEN"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = ServerConfig::load(None, env(&[("ZHICHAO_COUNTY", "140522100")])).unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Env {
                name: "ZHICHAO_COUNTY",
                ..
            }
        ));
        let missing = Path::new("/nonexistent/zhichao.toml");
        let e = ServerConfig::load(Some(missing), env(&[])).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(
            parse_duration(" 1h30m ").unwrap(),
            Duration::from_secs(5_400)
        );
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(
            parse_duration("2w").unwrap(),
            Duration::from_secs(1_209_600)
        );
        for bad in ["", "10", "h", "1x", "1h 30m", "-1s", "1.5h", "１h"] {
            assert!(
                matches!(parse_duration(bad), Err(DurationError::Shape(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_duration("99999999999999999999s"),
            Err(DurationError::Overflow(_))
        ));
        assert!(matches!(
            parse_duration("9999999999999999w"),
            Err(DurationError::Overflow(_))
        ));
        for s in ["0s", "45s", "1h30m", "7d", "1d1h1m1s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
