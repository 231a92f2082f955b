//! The `zhichao` command line: argument parsing and the subcommands that need no server.
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
    self, BodyType, Classification, DriveAxleTyres, Measurement, RulesConfig, Suspension,
    VehicleConfiguration,
};

/// Exit code for input that was understood but is invalid (a bad plate, an impossible
/// configuration, an unreadable rules file). clap uses the same code for usage errors.
pub const EXIT_INVALID_INPUT: u8 = 2;

/// zhichao — source-side technology overload control of road freight (源头科技治超).
#[derive(Debug, Parser)]
#[command(name = "zhichao", version, about, long_about = None)]
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
    Classify(ClassifyArgs),
    /// Normalise a licence plate (GA 36-2018) and print its kind, or say what is wrong.
    Plate(PlateArgs),
}

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
    /// Total mass on the registration (行驶证), kg: the limit of --kind registration-limited.
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
    /// A RulesConfig TOML file (tolerance, part-tonne rounding, 一超四罚 subjects); defaults
    /// per REFERENCE.md when omitted.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
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
            let rendered = e.render();
            let target: &mut dyn Write = if e.use_stderr() { err } else { out };
            // Ignore write errors (a closed pipe): the exit code still tells.
            let _ = write!(target, "{}", rendered.ansi());
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Classify(args) => classify(&args, out),
        Command::Plate(args) => plate(&args, out),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            ExitCode::from(EXIT_INVALID_INPUT)
        }
    }
}

type CmdResult = Result<ExitCode, String>;

fn classify(args: &ClassifyArgs, out: &mut dyn Write) -> CmdResult {
    let rules = match &args.rules {
        Some(path) => RulesConfig::load(path).map_err(|e| e.to_string())?,
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
    let verdict = rules::classify(&config, &measurement, &rules).map_err(|e| e.to_string())?;
    if args.json {
        write_json(out, &verdict)?;
    } else {
        write_classification(out, &verdict).map_err(|e| e.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_json<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    writeln!(out, "{text}").map_err(|e| e.to_string())
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
        row(
            out,
            "",
            format_args!(
                "configuration assumed: unknown details could lower the limit to {} kg; check the vehicle",
                kg(v.limit.lowest_possible_limit_kg)
            ),
        )?;
    }
    row(
        out,
        "excess 超限质量",
        format_args!("{} kg", kg(v.excess_kg)),
    )?;
    row(out, "rate 超限率", format_args!("{}", v.rate))?;
    for d in &v.dimension_excesses {
        row(
            out,
            d.dimension.chinese_name(),
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
            format_args!("warning (警告): excess ≤ 1 000 kg, Art. 43 (3)"),
        )?;
    } else if p.mass_fine_yuan > 0 {
        row(
            out,
            "penalty 处罚",
            format_args!("¥{} for the mass, Art. 43 (3)", kg(p.mass_fine_yuan)),
        )?;
    }
    if p.dimension_fine_max_yuan > 0 {
        row(
            out,
            "",
            format_args!(
                "¥{}–{} for the dimensions, Art. 43 (2)",
                kg(p.dimension_fine_min_yuan),
                kg(p.dimension_fine_max_yuan)
            ),
        )?;
    }
    if v.over_limit {
        row(
            out,
            "up to 最高罚款",
            format_args!("¥{}", kg(v.penalty_yuan_max)),
        )?;
        let subjects: Vec<&str> = v.subjects.iter().map(|s| s.chinese_name()).collect();
        row(
            out,
            "subjects 一超四罚",
            format_args!("{}", subjects.join("、")),
        )?;
    }
    if let Some(o) = &v.overload {
        if o.overloaded {
            row(
                out,
                "overload 超载",
                format_args!(
                    "yes: load {} kg, {} kg over the rated {} kg ({}); {} licence points (police)",
                    kg(o.load_kg),
                    kg(o.excess_kg),
                    kg(o.rated_payload_kg),
                    o.rate,
                    o.licence_points
                ),
            )?;
        } else {
            row(
                out,
                "overload 超载",
                format_args!(
                    "no: load {} kg within the rated {} kg",
                    kg(o.load_kg),
                    kg(o.rated_payload_kg)
                ),
            )?;
        }
    }
    row(out, "rules 规则版本", format_args!("{}", v.rules_id))
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
    let plate: Plate = args
        .text
        .parse()
        .map_err(|e| format!("invalid plate {:?}: {e}", args.text))?;
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
        let write = |out: &mut dyn Write| -> std::io::Result<()> {
            writeln!(out, "{}", output.plate)?;
            writeln!(out, "printed  {}", output.printed)?;
            writeln!(out, "kind     {}", output.kind)?;
            if let Some(c) = &output.default_colour {
                writeln!(out, "colour   {c}")?;
            }
            Ok(())
        };
        write(out).map_err(|e| e.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}
