//! The `zhichao` command line: argument parsing, the subcommands that need no server
//! (`classify`, `plate`, `evidence`), `serve`, the `admin` commands that call a running server,
//! and `import-weighings` (a weighbridge CSV export uploaded with a unit's token).
//!
//! `main.rs` only calls [`run`]; everything here writes to the writers it is given so that tests
//! can check the exact output and exit code.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use zhichao_core::plate::Plate;
use zhichao_core::rules::{
    self, BodyType, Classification, Detail, Dimension, DriveAxleTyres, Measurement, RulesConfig,
    Suspension, VehicleConfiguration,
};

/// Exit code for input that was understood but is invalid (a bad plate, an impossible
/// configuration, an unreadable rules file). clap uses the same code for usage errors.
pub const EXIT_INVALID_INPUT: u8 = 2;

/// Exit code of `import-weighings` when some lines were rejected or in conflict (the others
/// were imported); its failures (file, mapping, token, network) exit with
/// [`EXIT_INVALID_INPUT`].
pub const EXIT_LINES_REJECTED: u8 = 1;

/// Exit code when the output cannot be written (closed pipe, full disk), the server cannot be
/// reached or fails, or `serve` stops on an error.
pub const EXIT_OUTPUT_FAILED: u8 = 1;

/// zhichao — source-side technology overload control of road freight (源头科技治超).
#[derive(Debug, Parser)]
#[command(name = "zhichao", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify a measurement: gross mass limit (交通运输部令2016年第62号 Art. 3), over-limit
    /// (超限) verdict, 超限率, Art. 43 penalty estimate, and over rated payload (超载).
    #[command(after_long_help = CLASSIFY_AFTER_HELP)]
    Classify(ClassifyArgs),
    /// Normalise a licence plate (GA 36-2018) and print its kind, or say what is wrong.
    Plate(PlateArgs),
    /// Run the sync server. With port 0 the first line of output is `listening on ADDR`.
    #[command(after_long_help = SERVE_AFTER_HELP)]
    Serve(ServeArgs),
    /// Manage accounts and devices of a running server (uses ZHICHAO_ADMIN_TOKEN).
    Admin(AdminArgs),
    /// Check photos as evidence (SHA-256, format, size, capture time, GPS, camera) and write
    /// their evidence copies and thumbnails.
    Evidence(crate::evidence_cli::EvidenceArgs),
    /// Import a weighbridge program's CSV export (车号, 毛重, 皮重, 净重, 过磅时间 …; GBK or
    /// UTF-8; tonnes or kg) into the server with the unit's token; prints a summary.
    #[command(after_long_help = IMPORT_AFTER_HELP)]
    ImportWeighings(ImportWeighingsArgs),
    /// Play a day of the county's work end to end: a server on 127.0.0.1 with a fresh store,
    /// weighbridges uploading a morning of records, alerts, a patrol working offline with
    /// photos, a rectification notice answered and reviewed; then a readable summary.
    #[command(after_long_help = DEMO_AFTER_HELP)]
    Demo(DemoArgs),
}

const DEMO_AFTER_HELP: &str = "\
Everything goes through the real HTTP and WebSocket interfaces: the phones are the mobile
facade the Android and iOS apps run, the weighbridges post JSON like site software does.
The directory (default ./zhichao-demo) keeps the server's data and each phone's store; a rerun
replaces it (only a directory an earlier demo made). Look at the data afterwards with
  ZHICHAO_ADMIN_TOKEN=<24+ characters> zhichao serve --data-dir zhichao-demo/server
Photos: --photos DIR, else ../shared/fixtures/photos when present, else generated JPEGs with
EXIF; photos the evidence pipeline refuses (truncated, decompression bombs …) are reported and
skipped.
";

/// Arguments of `zhichao demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the county, the records and the outcomes: the same seed gives the same unit
    /// codes, record ids, departure alert ids, case numbers, photo hashes and counts (times
    /// are those of the run).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder of photos for the case and the response (JPEG, PNG, HEIC).
    #[arg(long, value_name = "DIR")]
    pub photos: Option<PathBuf>,
    /// Directory for the run's data.
    #[arg(long, value_name = "DIR", default_value = crate::demo::DEFAULT_DIR)]
    pub dir: PathBuf,
    /// Weighing records per source unit (five units).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u16).range(10..=2000))]
    pub records_per_unit: u16,
}

const IMPORT_AFTER_HELP: &str = concat!(
    "\
Reading the file:
  Encoding: UTF-8 (with or without BOM) or GBK/GB18030, detected. Header: the first line naming
  a plate column (title lines above it are skipped). Required columns: plate, gross,
  weighed_at, and axles unless the mapping sets default_axles. Built-in headers:
    record_id 流水号/单号/磅单号   plate 车号/车牌号/车牌   plate_colour 车牌颜色   axles 轴数
    gross 毛重   tare 皮重   net 净重   cargo 货物/货名/货物名称   loading_slip_no 装载单号
    lane 磅号/通道   entry_at 进场时间   weighed_at 过磅时间/称重时间   exit_at 出场时间
    result 结果/过磅结果
  Masses: t (up to 3 decimals, exact), kg, or auto: a unit in the gross header (毛重(吨)),
  else tonnes if any gross has a decimal point or all are below 1000, else kg.
  Times: China Standard Time, e.g. 2026-11-29 08:15:30, 2026/11/29 8:15, 2026-11-29T08:15:30.
  Result: without a result column (or with an empty cell) a line is 'passed' (the truck left).
  Record id: without an id column, one is derived from plate, weighing time and gross, so
  importing the same file again gives duplicates, never double records.
  Lines failing the checks are rejected with their line number and not sent.

Mapping file (--mapping FILE, TOML; lays over the built-in mapping; unknown keys are errors):
",
    include_str!("import/example-mapping.toml"),
    "
Token: --token or ZHICHAO_TOKEN (preferred: a command line is visible to other users), a
source-unit-system access token of the unit (`zhichao admin issue-token --role
source-unit-system --unit USCC …`).

Exit codes: 0 every line imported or already there; 1 some lines rejected or in conflict (the
rest imported); 2 usage error, unreadable file or mapping, refused token, network or server
failure. A stopped upload prints what was imported so far; running it again is safe.
"
);

const SERVE_AFTER_HELP: &str = "\
Settings come from defaults, then --config FILE (TOML), then the environment, then the flags:
  ZHICHAO_LISTEN, ZHICHAO_DATA_DIR, ZHICHAO_COUNTY, ZHICHAO_LOG_FORMAT (text|json),
  ZHICHAO_LOG (e.g. info,zhichao_server=debug), ZHICHAO_ALLOWED_ORIGINS (comma-separated),
  ZHICHAO_ACCESS_TTL, ZHICHAO_REFRESH_TTL, ZHICHAO_ENROLLMENT_TTL (e.g. 1h, 90d),
  ZHICHAO_MAX_MESSAGE_BYTES, ZHICHAO_MAX_BODY_BYTES, ZHICHAO_MAX_CONNECTIONS,
  ZHICHAO_HEARTBEAT_GAP (e.g. 15m), ZHICHAO_OPERATING_HOURS (e.g. 06:00-22:00).
ZHICHAO_ADMIN_TOKEN (at least 24 characters) registers the bootstrap admin token; unset, an
earlier bootstrap token stops working. Logs go to standard error.
";

const CLASSIFY_AFTER_HELP: &str = "\
Unknown details:
  Every detail except --axles and --gross-kg may be omitted. An omitted detail is unknown: it
  takes the value that gives the HIGHER limit, so an over-limit verdict holds whatever the true
  configuration. The verdict then says 'configuration assumed', names the details that could
  lower the limit and the lowest possible limit: check those on the vehicle.
  Which details matter: --kind always (a 3-axle truck may weigh 25 t, a 3-axle combination
  27 t); --drive-tyres and --suspension on 3/4-axle trucks (+1 000 kg when dual-tyred with air
  suspension) and 4-axle articulated vehicles (37 t); --drive-axles on 5-axle articulated
  vehicles (42 t with one) and combinations of 6+ axles (46 t with one);
  --single-tyre-axles / --wide-base-axles on every vehicle with axles behind the drive axle(s).

Output:
  The 超限率 is exact internally; it is shown rounded down to 0.01 % (and in --json as
  rate_bp, basis points = 1/100 %, rounded down, beside the exact fraction `rate`). Exactly at
  the limit is compliant; 1 kg over is over-limit.

Rules file (--rules FILE, TOML; every field optional, defaults shown):
  id = \"national-2016\"          # rules version recorded on cases
  tolerance_kg = 0                # deducted from the gross before comparing (max 5000)
  part_tonne_rounding = \"up\"      # up | down: part-tonnes of excess for the ¥500/t fine
  subjects = [\"vehicle\", \"driver\", \"transport_company\", \"source_unit\"]  # 一超四罚
  # source_unit_release_fine_yuan = 5000   # optional, per released over-limit truck

Examples:
  zhichao classify --kind articulated --axles 6 --drive-axles 2 --single-tyre-axles 0 --gross-kg 52300
  zhichao classify --axles 3 --gross-kg 26500 --json
";

/// Body type on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Rigid truck (货车), 2–4 axles.
    Truck,
    /// Centre-axle trailer combination (中置轴挂车列车).
    CentreAxle,
    /// Articulated vehicle, tractor + semi-trailer (铰接列车).
    Articulated,
    /// Full-trailer combination (全挂汽车列车).
    FullTrailer,
    /// Tractor, farm or low-speed vehicle: the limit is --registration-kg.
    RegistrationLimited,
}

impl From<KindArg> for BodyType {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Truck => BodyType::Truck,
            KindArg::CentreAxle => BodyType::CentreAxle,
            KindArg::Articulated => BodyType::Articulated,
            KindArg::FullTrailer => BodyType::FullTrailer,
            KindArg::RegistrationLimited => BodyType::RegistrationLimited,
        }
    }
}

/// Tyres per side on the drive axle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TyresArg {
    /// One tyre per side.
    Single,
    /// Two tyres per side.
    Dual,
}

/// Drive-axle suspension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SuspensionArg {
    /// Air suspension (空气悬架).
    Air,
    /// Any other suspension.
    Other,
}

/// Arguments of `zhichao classify`. An omitted detail is *unknown*: it takes the value that
/// gives the higher limit and the verdict says `configuration_assumed`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Body type; omit when only the axle count is known (weighbridge exports): the highest
    /// limit for that axle count applies.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Total number of axles of the vehicle or combination (2–20).
    #[arg(long)]
    pub axles: u8,
    /// Number of drive axles of the (towing) vehicle.
    #[arg(long)]
    pub drive_axles: Option<u8>,
    /// Tyres per side on the drive axle(s).
    #[arg(long, value_enum)]
    pub drive_tyres: Option<TyresArg>,
    /// Suspension of the drive axle(s).
    #[arg(long, value_enum)]
    pub suspension: Option<SuspensionArg>,
    /// Number of non-drive axles behind the steering axle with single tyres (−3 000 kg each).
    #[arg(long)]
    pub single_tyre_axles: Option<u8>,
    /// Of those single-tyre axles, how many have approved wide-base tyres (no reduction).
    #[arg(long)]
    pub wide_base_axles: Option<u8>,
    /// Total mass on the registration (行驶证总质量), kg: the limit of --kind
    /// registration-limited, and for any vehicle the maximum permitted total mass for 超载.
    #[arg(long)]
    pub registration_kg: Option<u32>,
    /// Measured gross mass of vehicle and load (车货总质量), kg.
    #[arg(long)]
    pub gross_kg: u32,
    /// Height from the ground incl. load, mm (limit 4 000).
    #[arg(long)]
    pub height_mm: Option<u32>,
    /// Width incl. load, mm (limit 2 550).
    #[arg(long)]
    pub width_mm: Option<u32>,
    /// Length incl. load, mm (limit 18 100).
    #[arg(long)]
    pub length_mm: Option<u32>,
    /// Rated payload on the registration (核定载质量), kg; with --curb-kg gives the 超载 verdict.
    #[arg(long, requires = "curb_kg")]
    pub rated_payload_kg: Option<u32>,
    /// Curb mass on the registration (整备质量), kg.
    #[arg(long, requires = "rated_payload_kg")]
    pub curb_kg: Option<u32>,
    /// A rules TOML file (tolerance, part-tonne rounding, 一超四罚 subjects); see the end of
    /// `--help` for its fields. Default: the national rules, no tolerance.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `zhichao import-weighings`.
#[derive(Debug, Args)]
pub struct ImportWeighingsArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    /// The CSV file exported by the weighbridge software.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// The source unit's unified social credit code (统一社会信用代码); the token must be
    /// this unit's.
    #[arg(long, value_name = "USCC")]
    pub unit: String,
    /// A mapping file (TOML): column names, mass unit, time formats, result words; see the end
    /// of `--help`.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// The unit's access token (default: the environment variable ZHICHAO_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// No progress bar (it is drawn on standard error only when that is a terminal).
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `zhichao plate`.
#[derive(Debug, Args)]
pub struct PlateArgs {
    /// The plate as typed: with or without the middle dot, spaces, full-width characters or
    /// lower case, e.g. "晋E·12345" or "晋e１２３４５".
    pub text: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `zhichao serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML configuration file: listen, data_dir, county, allowed_origins and the tables
    /// [log], [tokens], [limits], [rules] (the rules in force, as for `classify --rules`) and
    /// [blobs] (photo size cap, how long an unreferenced upload waits).
    /// Unknown keys are errors. The format is documented at the top of
    /// sync-server/src/config.rs; environment variables (ZHICHAO_LISTEN, ZHICHAO_DATA_DIR, …)
    /// override the file, flags override both.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (default ./data): holds docs/, auth/, log/, blobs/ and ingest/.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

/// Arguments of `zhichao admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The admin subcommands; each calls the server's admin API with the token from the
/// environment variable `ZHICHAO_ADMIN_TOKEN`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a one-time enrollment code for a principal's device; prints only the code.
    Enroll(EnrollArgs),
    /// Issue an access token directly (integrators, tests); prints only the token.
    IssueToken(IssueTokenArgs),
    /// Revoke tokens by id, token, device or principal; prints how many were revoked.
    Revoke(RevokeArgs),
    /// List stored tokens (never their secrets), one per line.
    List(ListArgs),
    /// Create a supervisor's account for the web console (/console/), or replace its password
    /// and scope (ending its sessions); prints the account and, when generated, the password
    /// (once: the server keeps only its hash).
    AddSupervisor(AddSupervisorArgs),
}

/// Arguments of `zhichao admin add-supervisor`.
#[derive(Debug, Args)]
pub struct AddSupervisorArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    /// The account id, e.g. supervisor:zhao.
    #[arg(long)]
    pub name: String,
    /// What the supervisor oversees: 140522 (the county), 140522/township/140522100 or
    /// 140522/dept/emergency_management (default: the server's county).
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Read the password (10 to 256 characters, no control characters) from standard input
    /// instead of having the server generate one; one trailing newline is dropped.
    #[arg(long)]
    pub password_stdin: bool,
}

/// The server to talk to.
#[derive(Debug, Args)]
pub struct ServerArg {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub server: String,
}

/// Role on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// A field officer of a patrol team (needs --team).
    Officer,
    /// An enterprise speaking for one source unit (needs --unit).
    Enterprise,
    /// A supervisor of a scope.
    Supervisor,
    /// A source unit's weighbridge uploader (needs --unit).
    SourceUnitSystem,
    /// An administrator.
    Admin,
    /// The server itself.
    Server,
}

impl From<RoleArg> for crate::api::Role {
    fn from(r: RoleArg) -> Self {
        use crate::api::Role;
        match r {
            RoleArg::Officer => Role::Officer,
            RoleArg::Enterprise => Role::Enterprise,
            RoleArg::Supervisor => Role::Supervisor,
            RoleArg::SourceUnitSystem => Role::SourceUnitSystem,
            RoleArg::Admin => Role::Admin,
            RoleArg::Server => Role::Server,
        }
    }
}

/// Who a token or code is for.
#[derive(Debug, Args)]
pub struct PrincipalArgs {
    /// The principal's role.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The account id, e.g. officer:zhang-wei-0417.
    #[arg(long)]
    pub name: String,
    /// Officers: the patrol team.
    #[arg(long)]
    pub team: Option<String>,
    /// Officers, supervisors, server: the scope, e.g. 140522 or 140522/township/140522100
    /// (default: the server's county).
    #[arg(long, value_name = "CODE")]
    pub scope: Option<String>,
    /// Enterprises and source-unit systems: the unit's unified social credit code.
    #[arg(long, value_name = "USCC")]
    pub unit: Option<String>,
}

impl PrincipalArgs {
    fn spec(&self) -> crate::api::PrincipalSpec {
        crate::api::PrincipalSpec {
            role: self.role.into(),
            name: self.name.clone(),
            team: self.team.clone(),
            scope: self.scope.clone(),
            unit: self.unit.clone(),
        }
    }
}

/// Arguments of `zhichao admin enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub principal: PrincipalArgs,
    /// The device: the storage id it announces when syncing.
    #[arg(long)]
    pub device: String,
    /// Lifetime of the code, e.g. 7d (default: the server's enrollment_ttl).
    #[arg(long)]
    pub ttl: Option<String>,
}

/// Arguments of `zhichao admin issue-token`.
#[derive(Debug, Args)]
pub struct IssueTokenArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub principal: PrincipalArgs,
    /// Lifetime, e.g. 1h (default: the server's access_ttl).
    #[arg(long)]
    pub ttl: Option<String>,
    /// Bind the token to a device (storage id).
    #[arg(long)]
    pub device: Option<String>,
}

/// Arguments of `zhichao admin revoke`: exactly one target.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["id", "token", "device", "principal"])))]
pub struct RevokeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    /// A token id (from `admin list`).
    #[arg(long)]
    pub id: Option<String>,
    /// A token itself.
    #[arg(long)]
    pub token: Option<String>,
    /// Every token of this device.
    #[arg(long)]
    pub device: Option<String>,
    /// Every token of this principal.
    #[arg(long)]
    pub principal: Option<String>,
}

/// Arguments of `zhichao admin list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    /// Only the tokens of this principal.
    #[arg(long)]
    pub principal: Option<String>,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Parses `args` (including the program name) and runs the command, writing results to `out`
/// and errors to `err`. Returns the process exit code: 0 on success, 2 for invalid input.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = u8::try_from(e.exit_code()).unwrap_or(EXIT_INVALID_INPUT);
            // Plain text: the writers may be pipes or files, not terminals.
            let rendered = e.render().to_string();
            let target: &mut dyn Write = if e.use_stderr() { err } else { out };
            if write!(target, "{rendered}").is_err() && code == 0 {
                return ExitCode::from(EXIT_OUTPUT_FAILED);
            }
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Classify(args) => classify(&args, out),
        Command::Plate(args) => plate(&args, out),
        Command::Serve(args) => serve(&args, out),
        Command::Admin(args) => admin(&args, out),
        Command::Evidence(args) => {
            crate::evidence_cli::run(&args, out, err).map_err(CliError::Output)
        }
        Command::ImportWeighings(args) => import_weighings(&args, out),
        Command::Demo(args) => demo(&args, out),
    };
    match result {
        Ok(code) => code,
        Err(CliError::Invalid(message)) => {
            let _ = writeln!(err, "error: {message}");
            ExitCode::from(EXIT_INVALID_INPUT)
        }
        Err(CliError::Output(e)) => {
            let _ = writeln!(err, "error: cannot write the output: {e}");
            ExitCode::from(EXIT_OUTPUT_FAILED)
        }
        Err(CliError::Failed(message)) => {
            let _ = writeln!(err, "error: {message}");
            ExitCode::from(EXIT_OUTPUT_FAILED)
        }
    }
}

/// Why a command failed: the input (exit 2), the output or the server (exit 1).
#[derive(Debug)]
enum CliError {
    Invalid(String),
    Output(std::io::Error),
    Failed(String),
}

impl From<crate::client::ClientError> for CliError {
    fn from(e: crate::client::ClientError) -> Self {
        if e.is_client_error() || matches!(e, crate::client::ClientError::Url { .. }) {
            CliError::Invalid(e.to_string())
        } else {
            CliError::Failed(e.to_string())
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}

type CmdResult = Result<ExitCode, CliError>;

fn invalid(e: impl std::fmt::Display) -> CliError {
    CliError::Invalid(e.to_string())
}

fn demo(args: &DemoArgs, out: &mut dyn Write) -> CmdResult {
    let options = crate::demo::DemoOptions {
        seed: args.seed,
        dir: args.dir.clone(),
        photos: args.photos.clone(),
        records_per_unit: usize::from(args.records_per_unit),
        // The summary's commands name this very binary, so they work without an alias.
        program: std::env::current_exe()
            .map_or_else(|_| "zhichao".to_owned(), |p| p.display().to_string()),
    };
    match crate::demo::run(&options, out) {
        Ok(report) => {
            writeln!(out)?;
            write!(out, "{report}")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(
            e @ (crate::demo::DemoError::ForeignDirectory { .. }
            | crate::demo::DemoError::InUse { .. }),
        ) => Err(invalid(e)),
        Err(e) => Err(CliError::Failed(e.to_string())),
    }
}

fn classify(args: &ClassifyArgs, out: &mut dyn Write) -> CmdResult {
    let rules = match &args.rules {
        Some(path) => RulesConfig::load(path).map_err(invalid)?,
        None => RulesConfig::default(),
    };
    let config = VehicleConfiguration {
        kind: args.kind.map(BodyType::from),
        axles: args.axles,
        drive_axles: args.drive_axles,
        drive_axle_tyres: args.drive_tyres.map(|t| match t {
            TyresArg::Single => DriveAxleTyres::Single,
            TyresArg::Dual => DriveAxleTyres::Dual,
        }),
        suspension: args.suspension.map(|s| match s {
            SuspensionArg::Air => Suspension::Air,
            SuspensionArg::Other => Suspension::Other,
        }),
        single_tyre_axles: args.single_tyre_axles,
        wide_base_tyre_axles: args.wide_base_axles,
        registration_kg: args.registration_kg,
    };
    let measurement = Measurement {
        gross_kg: args.gross_kg,
        height_mm: args.height_mm,
        width_mm: args.width_mm,
        length_mm: args.length_mm,
        rated_payload_kg: args.rated_payload_kg,
        curb_kg: args.curb_kg,
    };
    let verdict = rules::classify(&config, &measurement, &rules).map_err(invalid)?;
    if args.json {
        write_json(out, &verdict)?;
    } else {
        write_classification(out, &verdict)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_json<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// Thousands with a thin space, the way weights are printed on Chinese forms: `49 000`.
fn kg(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    grouped
}

/// Terminal width of a label: CJK characters take two columns.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// One line of the table: the label padded to a fixed width (CJK-aware), then the value.
fn row(out: &mut dyn Write, label: &str, value: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    const LABEL_COLUMNS: usize = 22;
    let pad = LABEL_COLUMNS.saturating_sub(display_width(label));
    writeln!(out, "{label}{:pad$}{value}", "")
}

fn write_classification(out: &mut dyn Write, v: &Classification) -> std::io::Result<()> {
    row(out, "verdict 结论", format_args!("{}", verdict_text(v)))?;
    row(
        out,
        "gross 车货总质量",
        format_args!("{} kg", kg(v.gross_kg)),
    )?;
    if v.tolerance_kg > 0 {
        row(
            out,
            "tolerance 允许误差",
            format_args!("{} kg", kg(v.tolerance_kg)),
        )?;
    }
    row(
        out,
        "limit 限值",
        format_args!("{} kg ({})", kg(v.limit_kg), v.limit.kind.chinese_name()),
    )?;
    for line in &v.limit.basis {
        row(out, "", format_args!("{line}"))?;
    }
    if v.configuration_assumed {
        let flags: Vec<&str> = v
            .limit
            .unknown_details
            .iter()
            .map(|d| detail_flag(*d))
            .collect();
        row(
            out,
            "",
            format_args!(
                "configuration assumed: unknown {} could lower the limit to {} kg; check the vehicle",
                flags.join(", "),
                kg(v.limit.lowest_possible_limit_kg)
            ),
        )?;
    }
    row(
        out,
        "excess 超限质量",
        format_args!("{} kg", kg(v.excess_kg)),
    )?;
    row(
        out,
        "rate 超限率",
        format_args!(
            "{} ({} / {}, shown rounded down)",
            v.rate,
            kg(v.rate.numerator()),
            kg(v.rate.denominator())
        ),
    )?;
    for d in &v.dimension_excesses {
        let label = format!(
            "{} {}",
            dimension_name(d.dimension),
            d.dimension.chinese_name()
        );
        row(
            out,
            &label,
            format_args!(
                "{} mm, {} mm over the {} mm limit",
                kg(d.measured_mm),
                kg(d.excess_mm),
                kg(d.limit_mm)
            ),
        )?;
    }
    let p = &v.penalty;
    if p.mass_warning_only {
        row(
            out,
            "penalty 处罚",
            format_args!("warning (警告): excess ≤ 1 000 kg, Art. 43 (2)"),
        )?;
    } else if p.mass_fine_yuan > 0 {
        row(
            out,
            "penalty 处罚",
            format_args!("¥{} for the mass, Art. 43 (2)", kg(p.mass_fine_yuan)),
        )?;
    }
    if p.dimension_fine_max_yuan > 0 {
        row(
            out,
            "",
            format_args!(
                "¥{}–{} for the dimensions, Art. 43 (1)",
                kg(p.dimension_fine_min_yuan),
                kg(p.dimension_fine_max_yuan)
            ),
        )?;
    }
    if v.over_limit {
        if v.penalty_yuan_max > 0 {
            row(
                out,
                "up to 最高罚款",
                format_args!("¥{}", kg(v.penalty_yuan_max)),
            )?;
        }
        let subjects: Vec<&str> = v.subjects.iter().map(|s| s.chinese_name()).collect();
        row(
            out,
            "subjects 一超四罚",
            format_args!("{}", subjects.join("、")),
        )?;
    }
    if let Some(o) = &v.overload {
        let payload = match (o.rated_payload_kg, o.payload_rate) {
            (Some(rated), Some(rate)) => format!("; {rate} of the rated payload {} kg", kg(rated)),
            _ => String::new(),
        };
        if o.overloaded {
            row(
                out,
                "overload 超载",
                format_args!(
                    "yes: {} kg over the maximum total mass {} kg ({}{payload}); {} licence point(s) (police)",
                    kg(o.excess_kg),
                    kg(o.max_total_kg),
                    o.rate,
                    o.licence_points
                ),
            )?;
        } else {
            row(
                out,
                "overload 超载",
                format_args!(
                    "no: within the maximum total mass {} kg",
                    kg(o.max_total_kg)
                ),
            )?;
        }
    }
    row(out, "rules 规则版本", format_args!("{}", v.rules_id))
}

/// The command-line flag of a configuration detail.
fn detail_flag(detail: Detail) -> &'static str {
    match detail {
        Detail::Kind => "--kind",
        Detail::DriveAxles => "--drive-axles",
        Detail::DriveAxleTyres => "--drive-tyres",
        Detail::Suspension => "--suspension",
        Detail::SingleTyreAxles => "--single-tyre-axles",
        Detail::WideBaseTyreAxles => "--wide-base-axles",
    }
}

fn dimension_name(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Height => "height",
        Dimension::Width => "width",
        Dimension::Length => "length",
    }
}

fn verdict_text(v: &Classification) -> &'static str {
    match (v.mass_over_limit, v.dimension_excesses.is_empty()) {
        (true, true) => "OVER LIMIT 超限 (mass)",
        (true, false) => "OVER LIMIT 超限 (mass and dimensions)",
        (false, false) => "OVER LIMIT 超限 (dimensions)",
        (false, true) => "compliant 未超限",
    }
}

/// JSON shape of `zhichao plate --json`.
#[derive(Serialize)]
struct PlateOutput<'a> {
    input: &'a str,
    plate: String,
    printed: String,
    province: String,
    authority: char,
    serial: &'a str,
    kind: String,
    default_colour: Option<String>,
}

fn plate(args: &PlateArgs, out: &mut dyn Write) -> CmdResult {
    let plate: Plate = args.text.parse().map_err(|e| {
        // Echo a bounded prefix of the input: it may be pasted garbage.
        let shown: String = args.text.chars().take(40).collect();
        let more = if args.text.chars().count() > 40 {
            "…"
        } else {
            ""
        };
        invalid(format_args!("invalid plate {shown:?}{more}: {e}"))
    })?;
    let output = PlateOutput {
        input: &args.text,
        plate: plate.to_string(),
        printed: format!("{plate:#}"),
        province: plate.province().to_string(),
        authority: plate.authority(),
        serial: plate.serial(),
        kind: plate.kind().to_string(),
        default_colour: plate.default_colour().map(|c| c.to_string()),
    };
    if args.json {
        write_json(out, &output)?;
    } else {
        writeln!(out, "plate    {}", output.plate)?;
        writeln!(out, "printed  {}", output.printed)?;
        writeln!(out, "kind     {}", output.kind)?;
        if let Some(c) = &output.default_colour {
            writeln!(out, "colour   {c} (usual for this kind)")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(args: &ServeArgs, out: &mut dyn Write) -> CmdResult {
    use crate::config::ServerConfig;

    let mut config = ServerConfig::load(args.config.as_deref(), |name| std::env::var(name).ok())
        .map_err(invalid)?;
    if let Some(dir) = &args.data_dir {
        config.data_dir.clone_from(dir);
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    match crate::telemetry::init(&config.log) {
        Ok(()) | Err(crate::telemetry::TelemetryError::AlreadyInstalled) => {}
        Err(e) => return Err(invalid(e)),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| CliError::Failed(format!("cannot listen on {}: {e}", config.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::Failed(format!("no local address: {e}")))?;
        let data_dir = config.data_dir.clone();
        let state = crate::AppState::open(config, std::sync::Arc::new(crate::clock::SystemClock))
            .await
            .map_err(|e| match e {
                // A configuration problem, not one of the data directory.
                crate::StartError::ServerDoc(e) => CliError::Failed(e.to_string()),
                e => CliError::Failed(format!("{}: {e}", data_dir.display())),
            })?;
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
        tracing::info!(%addr, data_dir = %data_dir.display(), "serving");
        crate::serve(listener, state, shutdown_signal())
            .await
            .map_err(|e| CliError::Failed(format!("server failed: {e}")))?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn import_weighings(args: &ImportWeighingsArgs, out: &mut dyn Write) -> CmdResult {
    use crate::clock::Clock as _;
    use crate::import::{ImportOptions, ImportOutcome};

    let unit = zhichao_core::uscc::Uscc::parse(&args.unit)
        .map_err(|e| invalid(format_args!("--unit {:?}: {e}", args.unit)))?;
    let token = args
        .token
        .clone()
        .or_else(|| std::env::var("ZHICHAO_TOKEN").ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("give the unit's access token with --token or ZHICHAO_TOKEN"))?;
    let options = ImportOptions {
        server: args.server.server.clone(),
        file: args.file.clone(),
        unit,
        mapping: args.mapping.clone(),
        token,
        quiet: args.quiet,
        now_ms: i64::try_from(crate::clock::SystemClock.now_ms()).unwrap_or(i64::MAX),
    };
    // Every failure of the import is exit 2: exit 1 means "some lines rejected".
    match crate::import::run(&options, out).map_err(invalid)? {
        ImportOutcome::Complete => Ok(ExitCode::SUCCESS),
        ImportOutcome::SomeRejected => Ok(ExitCode::from(EXIT_LINES_REJECTED)),
    }
}

fn admin(args: &AdminArgs, out: &mut dyn Write) -> CmdResult {
    use crate::api::{
        AddSupervisorRequest, CreateEnrollmentRequest, IssueTokenRequest, RevokeRequest,
    };
    use crate::client::AdminClient;

    let token = std::env::var("ZHICHAO_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| invalid("set ZHICHAO_ADMIN_TOKEN to the admin token"))?;
    let client = |server: &ServerArg| AdminClient::new(&server.server, token.trim());
    let check_ttl = |ttl: &Option<String>| -> Result<(), CliError> {
        if let Some(t) = ttl {
            crate::config::parse_duration(t).map_err(|e| invalid(format_args!("--ttl: {e}")))?;
        }
        Ok(())
    };
    match &args.command {
        AdminCommand::Enroll(a) => {
            check_ttl(&a.ttl)?;
            let answer = client(&a.server)?.create_enrollment(&CreateEnrollmentRequest {
                principal: a.principal.spec(),
                device: a.device.clone(),
                ttl: a.ttl.clone(),
            })?;
            writeln!(out, "{}", answer.code)?;
        }
        AdminCommand::IssueToken(a) => {
            check_ttl(&a.ttl)?;
            let answer = client(&a.server)?.issue_token(&IssueTokenRequest {
                principal: a.principal.spec(),
                ttl: a.ttl.clone(),
                device: a.device.clone(),
            })?;
            writeln!(out, "{}", answer.token)?;
        }
        AdminCommand::Revoke(a) => {
            let answer = client(&a.server)?.revoke(&RevokeRequest {
                id: a.id.clone(),
                token: a.token.clone(),
                device: a.device.clone(),
                principal: a.principal.clone(),
            })?;
            writeln!(out, "{}", answer.revoked)?;
        }
        AdminCommand::List(a) => {
            let answer = client(&a.server)?.list(a.principal.as_deref())?;
            if a.json {
                write_json(out, &answer)?;
            } else {
                for t in &answer.tokens {
                    let state = if t.revoked {
                        "revoked"
                    } else if t.used_at_ms.is_some() {
                        "used"
                    } else {
                        "live"
                    };
                    writeln!(
                        out,
                        "{}  {:<10} {:<8} {}  device={}  expires_at_ms={}",
                        t.id,
                        t.kind,
                        state,
                        t.principal.id(),
                        t.device.as_ref().map_or("-", |d| d.as_str()),
                        t.expires_at_ms
                            .map_or_else(|| "never".to_owned(), |ms| ms.to_string()),
                    )?;
                }
            }
        }
        AdminCommand::AddSupervisor(a) => {
            let password = if a.password_stdin {
                Some(password_from_stdin()?)
            } else {
                None
            };
            let client = client(&a.server)?;
            let answer = client.add_supervisor(&AddSupervisorRequest {
                name: a.name.clone(),
                scope: a.scope.clone(),
                password,
            })?;
            writeln!(
                out,
                "console account {} (scope {}){}",
                answer.id,
                answer.scope,
                if answer.replaced {
                    ": password replaced, its console sessions ended"
                } else {
                    ""
                }
            )?;
            match &answer.password {
                Some(p) => writeln!(
                    out,
                    "password: {p}\n  (shown this once: the server keeps only its hash)"
                )?,
                None => writeln!(out, "password: as given")?,
            }
            writeln!(
                out,
                "log in at {}/console/",
                a.server.server.trim().trim_end_matches('/')
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The password of `add-supervisor --password-stdin`: standard input, without one trailing
/// newline.
fn password_from_stdin() -> Result<String, CliError> {
    use std::io::Read as _;
    let mut text = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut text)
        .map_err(|e| invalid(format_args!("--password-stdin: {e}")))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    crate::console::passwords::check_new_password(text)
        .map_err(|e| invalid(format_args!("--password-stdin: {e}")))?;
    Ok(text.to_owned())
}
