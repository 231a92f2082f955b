//! Vehicle configuration (车型) → gross mass limit (车货总质量限值), and dimension limits.
//!
//! Why a *configuration* and not an axle count: the limit depends on the body type (a 3-axle
//! truck may weigh 25 t, a 3-axle combination 27 t — keying on axle count alone is a known bug in
//! public code), on the drive axles, their tyres and suspension, and on single-tyred axles.
//! Weighbridges and officers often know only some of these details, so every detail may be
//! unknown. An unknown detail takes the value that gives the *higher* limit, and the result says
//! [`LimitDetermination::configuration_assumed`]: a verdict of over-limit under the highest
//! possible limit holds whatever the true configuration, so no alert or penalty rests on a guess.
//!
//! Sources: 超限运输车辆行驶公路管理规定 (交通运输部令2016年第62号) Art. 3; the table of
//! 交公路发〔2016〕124号 附件 and its notes (layout variants: a 4-axle centre-axle trailer
//! combination at 35 t, a 5-axle articulated vehicle whose tractor has a single drive axle at 42 t,
//! a 4-axle articulated vehicle with dual-tyred, air-suspended drive axle at 37 t).

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

/// Height limit incl. load, mm (62号令 Art. 3 (1)): over-limit when strictly greater.
pub const HEIGHT_LIMIT_MM: u32 = 4_000;
/// Width limit incl. load, mm (62号令 Art. 3 (2)).
pub const WIDTH_LIMIT_MM: u32 = 2_550;
/// Length limit incl. load, mm (62号令 Art. 3 (3)).
pub const LENGTH_LIMIT_MM: u32 = 18_100;

/// Reduction of the limit for each non-drive axle with single tyres, kg (62号令 Art. 3 second
/// paragraph: other axles are taken as dual-tyred; each single-tyred axle lowers the limit by
/// 3 000 kg unless fitted with approved wide-base tyres).
pub const SINGLE_TYRE_AXLE_REDUCTION_KG: u32 = 3_000;
/// Increase for 3- and 4-axle trucks whose drive axle is dual-tyred with air suspension, kg
/// (62号令 Art. 3 second paragraph; 124号 table notes).
pub const AIR_SUSPENSION_BONUS_KG: u32 = 1_000;

/// The largest axle count accepted; more is treated as an input error, not a vehicle.
pub const MAX_AXLES: u8 = 20;

/// The largest registration total mass accepted, kg; more is treated as an input error.
pub const MAX_REGISTRATION_KG: u32 = 100_000;

/// Body type of the vehicle or combination (车辆类型), as the 124号 table distinguishes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
#[serde(rename_all = "kebab-case")]
pub enum BodyType {
    /// Rigid truck (货车, 载货汽车): 2 to 4 axles.
    Truck,
    /// Centre-axle trailer combination (中置轴挂车列车).
    CentreAxle,
    /// Articulated vehicle: tractor and semi-trailer (铰接列车).
    Articulated,
    /// Full-trailer combination (全挂汽车列车).
    FullTrailer,
    /// Tractor (拖拉机), farm or low-speed vehicle: the limit is the total mass on its
    /// registration (行驶证), 62号令 Art. 3 last paragraph.
    RegistrationLimited,
}

impl BodyType {
    /// Every body type, in table order.
    pub const ALL: [BodyType; 5] = [
        BodyType::Truck,
        BodyType::CentreAxle,
        BodyType::Articulated,
        BodyType::FullTrailer,
        BodyType::RegistrationLimited,
    ];

    /// The Chinese term used in the 124号 table.
    pub fn chinese_name(self) -> &'static str {
        match self {
            BodyType::Truck => "货车",
            BodyType::CentreAxle => "中置轴挂车列车",
            BodyType::Articulated => "铰接列车",
            BodyType::FullTrailer => "全挂汽车列车",
            BodyType::RegistrationLimited => "拖拉机/农用车/低速车",
        }
    }

    /// True for the combinations (汽车列车).
    pub fn is_combination(self) -> bool {
        matches!(
            self,
            BodyType::CentreAxle | BodyType::Articulated | BodyType::FullTrailer
        )
    }
}

/// Tyres on the drive axle(s), per side (每轴每侧单/双轮胎).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
#[serde(rename_all = "kebab-case")]
pub enum DriveAxleTyres {
    /// One tyre per side.
    Single,
    /// Two tyres per side.
    Dual,
}

/// Suspension of the drive axle(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
#[serde(rename_all = "kebab-case")]
pub enum Suspension {
    /// Air suspension (空气悬架).
    Air,
    /// Any other suspension (leaf springs …).
    Other,
}

/// A vehicle configuration as far as it is known. `None` means *unknown*.
///
/// The axle count is always known (every weighbridge reports it). For a combination, the drive
/// axles, their tyres and suspension are those of the towing vehicle (tractor).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
#[serde(deny_unknown_fields)]
pub struct VehicleConfiguration {
    /// Body type; unknown when a weighbridge reports only the axle count.
    #[serde(default)]
    pub kind: Option<BodyType>,
    /// Total number of axles of the vehicle or combination, 2 ..= [`MAX_AXLES`].
    pub axles: u8,
    /// Number of drive axles of the (towing) vehicle, at least 1.
    #[serde(default)]
    pub drive_axles: Option<u8>,
    /// Tyres of the drive axle(s).
    #[serde(default)]
    pub drive_axle_tyres: Option<DriveAxleTyres>,
    /// Suspension of the drive axle(s).
    #[serde(default)]
    pub suspension: Option<Suspension>,
    /// Number of non-drive axles (other than the front steering axle) with single tyres per side.
    #[serde(default)]
    pub single_tyre_axles: Option<u8>,
    /// Of those single-tyred axles, how many carry approved wide-base tyres (nominal section width
    /// ≥ 425 mm), which are exempt from the 3 000 kg reduction.
    #[serde(default)]
    pub wide_base_tyre_axles: Option<u8>,
    /// Total mass on the registration (行驶证总质量), kg: the limit of a
    /// [`BodyType::RegistrationLimited`] vehicle.
    #[serde(default)]
    pub registration_kg: Option<u32>,
}

/// Why a configuration cannot be given a limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigurationError {
    /// Fewer than 2 or more than [`MAX_AXLES`] axles.
    #[error("axle count {0} is out of range (2 to {MAX_AXLES})")]
    AxleCount(u8),
    /// The body type does not exist with that many axles in the Art. 3 table.
    #[error("a {kind} ({chinese}) with {axles} axles is not in the Art. 3 table", kind = kind_name(*.kind), chinese = .kind.chinese_name())]
    NotInTable {
        /// The body type given.
        kind: BodyType,
        /// The axle count given.
        axles: u8,
    },
    /// Drive axle count impossible for the axle count.
    #[error("{drive} drive axles is impossible on a vehicle with {axles} axles (1 to {max})", max = .axles.saturating_sub(1))]
    DriveAxles {
        /// Drive axles given.
        drive: u8,
        /// Axle count given.
        axles: u8,
    },
    /// More single-tyred axles than there are non-drive, non-steering axles.
    #[error(
        "{single} single-tyre axles is more than the {max} non-drive axles behind the steering axle"
    )]
    SingleTyreAxles {
        /// Single-tyre axles given.
        single: u8,
        /// The most possible for this configuration.
        max: u8,
    },
    /// More wide-base axles than single-tyred axles.
    #[error("{wide} wide-base tyre axles is more than the {single} single-tyre axles")]
    WideBaseAxles {
        /// Wide-base axles given.
        wide: u8,
        /// Single-tyre axles given (or the most possible when unknown).
        single: u8,
    },
    /// A registration-limited vehicle without its registration mass.
    #[error(
        "a tractor, farm or low-speed vehicle needs its registration total mass (行驶证总质量)"
    )]
    MissingRegistrationMass,
    /// A registration mass of zero.
    #[error("registration total mass must be greater than 0 kg")]
    ZeroRegistrationMass,
    /// A registration mass above [`MAX_REGISTRATION_KG`]: a typo, not a vehicle.
    #[error(
        "registration total mass {0} kg is above the plausible maximum of {MAX_REGISTRATION_KG} kg"
    )]
    ImplausibleRegistrationMass(u32),
    /// The single-tyre reductions use up the whole limit.
    #[error("single-tyre reductions of {reduction_kg} kg leave no limit of the {base_kg} kg base")]
    NoPositiveLimit {
        /// The limit before reductions, kg.
        base_kg: u32,
        /// The total reduction, kg.
        reduction_kg: u32,
    },
}

fn kind_name(kind: BodyType) -> &'static str {
    match kind {
        BodyType::Truck => "truck",
        BodyType::CentreAxle => "centre-axle trailer combination",
        BodyType::Articulated => "articulated vehicle",
        BodyType::FullTrailer => "full-trailer combination",
        BodyType::RegistrationLimited => "registration-limited vehicle",
    }
}

/// The gross mass limit that applies to a configuration, and how sure it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitDetermination {
    /// The limit applied, kg: the highest limit any configuration consistent with the known
    /// details could have.
    pub limit_kg: u32,
    /// The lowest limit a configuration consistent with the known details could have, kg; equal
    /// to `limit_kg` when nothing unknown mattered.
    pub lowest_possible_limit_kg: u32,
    /// True when an unknown detail changed the limit (`lowest_possible_limit_kg < limit_kg`):
    /// the verdict is safe (it uses the higher limit) but the configuration should be checked.
    pub configuration_assumed: bool,
    /// The body type the applied limit is for (the assumed one when the kind was unknown).
    pub kind: BodyType,
    /// The table row and adjustments that gave `limit_kg`, for display, e.g.
    /// `"62号令 Art. 3: 六轴及以上汽车列车 49000 kg"`.
    pub basis: Vec<String>,
    /// The unknown details that could change the limit (empty unless `configuration_assumed`):
    /// what to check on the vehicle.
    pub unknown_details: Vec<Detail>,
}

/// A detail of a [`VehicleConfiguration`] that may be unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// [`VehicleConfiguration::kind`].
    Kind,
    /// [`VehicleConfiguration::drive_axles`].
    DriveAxles,
    /// [`VehicleConfiguration::drive_axle_tyres`].
    DriveAxleTyres,
    /// [`VehicleConfiguration::suspension`].
    Suspension,
    /// [`VehicleConfiguration::single_tyre_axles`].
    SingleTyreAxles,
    /// [`VehicleConfiguration::wide_base_tyre_axles`].
    WideBaseTyreAxles,
}

/// The limit of one fully known configuration, with how it was found.
struct Candidate {
    limit_kg: u32,
    basis: Vec<String>,
    kind: BodyType,
}

/// One fully known configuration, used internally to evaluate the table.
#[derive(Clone, Copy, Debug)]
struct Resolved {
    kind: BodyType,
    axles: u8,
    drive_axles: u8,
    tyres: DriveAxleTyres,
    suspension: Suspension,
    single_tyre_axles: u8,
    wide_base_tyre_axles: u8,
    registration_kg: u32,
}

impl VehicleConfiguration {
    /// A configuration of which only the axle count is known (weighbridge exports).
    pub fn axles_only(axles: u8) -> Self {
        VehicleConfiguration {
            axles,
            ..Default::default()
        }
    }

    /// A configuration with known body type and axle count, other details unknown.
    pub fn new(kind: BodyType, axles: u8) -> Self {
        VehicleConfiguration {
            kind: Some(kind),
            axles,
            ..Default::default()
        }
    }

    /// The gross mass limit (车货总质量限值) of this configuration, kg, per 62号令 Art. 3 and the
    /// 124号 table. Unknown details take the values giving the highest limit.
    ///
    /// # Errors
    /// [`ConfigurationError`] when the known details are inconsistent or not in the table (a
    /// 5-axle rigid truck, 7 drive axles on 3 axles, a registration-limited vehicle without its
    /// registration mass …).
    pub fn gross_limit(&self) -> Result<LimitDetermination, ConfigurationError> {
        let mut determination = self.determine()?;
        if determination.configuration_assumed {
            determination.unknown_details = self.unknowns_that_matter(&determination);
        }
        Ok(determination)
    }

    /// The unknown details whose value changes the limit range: fixing each in turn to each of
    /// its values (the extremes for counts) and comparing the range with `whole`.
    fn unknowns_that_matter(&self, whole: &LimitDetermination) -> Vec<Detail> {
        let range = |c: VehicleConfiguration| {
            c.determine()
                .ok()
                .map(|d| (d.limit_kg, d.lowest_possible_limit_kg))
        };
        let whole_range = (whole.limit_kg, whole.lowest_possible_limit_kg);
        // Variants that are impossible (an error) say nothing about the others.
        let varies = |variants: Vec<VehicleConfiguration>| {
            variants
                .into_iter()
                .filter_map(range)
                .any(|r| r != whole_range)
        };
        let with = |f: &dyn Fn(&mut VehicleConfiguration)| {
            let mut c = self.clone();
            f(&mut c);
            c
        };
        let max_count = self.axles.saturating_sub(2);
        let mut out = Vec::new();
        if self.kind.is_none()
            && varies(
                BodyType::ALL
                    .into_iter()
                    .map(|k| with(&|c| c.kind = Some(k)))
                    .collect(),
            )
        {
            out.push(Detail::Kind);
        }
        if self.drive_axles.is_none()
            && varies(vec![
                with(&|c| c.drive_axles = Some(1)),
                with(&|c| c.drive_axles = Some(2)),
            ])
        {
            out.push(Detail::DriveAxles);
        }
        if self.drive_axle_tyres.is_none()
            && varies(vec![
                with(&|c| c.drive_axle_tyres = Some(DriveAxleTyres::Single)),
                with(&|c| c.drive_axle_tyres = Some(DriveAxleTyres::Dual)),
            ])
        {
            out.push(Detail::DriveAxleTyres);
        }
        if self.suspension.is_none()
            && varies(vec![
                with(&|c| c.suspension = Some(Suspension::Air)),
                with(&|c| c.suspension = Some(Suspension::Other)),
            ])
        {
            out.push(Detail::Suspension);
        }
        if self.single_tyre_axles.is_none()
            && varies(vec![
                with(&|c| c.single_tyre_axles = Some(0)),
                with(&|c| c.single_tyre_axles = Some(max_count)),
            ])
        {
            out.push(Detail::SingleTyreAxles);
        }
        if self.wide_base_tyre_axles.is_none()
            && varies(vec![
                with(&|c| c.wide_base_tyre_axles = Some(0)),
                with(&|c| c.wide_base_tyre_axles = Some(max_count)),
            ])
        {
            out.push(Detail::WideBaseTyreAxles);
        }
        out
    }

    /// The limit range over every configuration consistent with the known details.
    fn determine(&self) -> Result<LimitDetermination, ConfigurationError> {
        let axles = self.axles;
        if !(2..=MAX_AXLES).contains(&axles) {
            return Err(ConfigurationError::AxleCount(axles));
        }
        if let Some(drive) = self.drive_axles
            && (drive == 0 || drive >= axles)
        {
            return Err(ConfigurationError::DriveAxles { drive, axles });
        }
        let kinds: Vec<BodyType> = match self.kind {
            Some(kind) => {
                if !table_has(kind, axles) {
                    return Err(ConfigurationError::NotInTable { kind, axles });
                }
                vec![kind]
            }
            // Registration-limited vehicles are never inferred from an axle count.
            None => BodyType::ALL
                .into_iter()
                .filter(|k| *k != BodyType::RegistrationLimited && table_has(*k, axles))
                .collect(),
        };
        let registration_kg = match (kinds.as_slice(), self.registration_kg) {
            ([BodyType::RegistrationLimited], None) => {
                return Err(ConfigurationError::MissingRegistrationMass);
            }
            ([BodyType::RegistrationLimited], Some(0)) => {
                return Err(ConfigurationError::ZeroRegistrationMass);
            }
            (_, Some(r)) if r > MAX_REGISTRATION_KG => {
                return Err(ConfigurationError::ImplausibleRegistrationMass(r));
            }
            (_, r) => r.unwrap_or(0),
        };
        let drive_choices: Vec<u8> = match self.drive_axles {
            Some(d) => vec![d],
            None => (1..=2.min(axles - 1)).collect(),
        };
        let tyre_choices = option_or_all(
            self.drive_axle_tyres,
            &[DriveAxleTyres::Single, DriveAxleTyres::Dual],
        );
        let suspension_choices =
            option_or_all(self.suspension, &[Suspension::Air, Suspension::Other]);

        // Every configuration consistent with the known details; an unknown detail ranges over
        // its values (for counts, the extremes suffice: the limit is monotonic in them).
        let mut candidates: Vec<Result<Candidate, ConfigurationError>> = Vec::new();
        for &kind in &kinds {
            for &drive_axles in &drive_choices {
                // Axles behind the steering axle that are not drive axles.
                let max_single = axles - 1 - drive_axles;
                let single_choices = match self.single_tyre_axles {
                    Some(s) => vec![s],
                    None => vec![self.wide_base_tyre_axles.unwrap_or(0), max_single],
                };
                for &single in &single_choices {
                    if single > max_single {
                        candidates.push(Err(ConfigurationError::SingleTyreAxles {
                            single,
                            max: max_single,
                        }));
                        continue;
                    }
                    let wide_choices = match self.wide_base_tyre_axles {
                        Some(w) => vec![w],
                        None => vec![0, single],
                    };
                    for &wide in &wide_choices {
                        if wide > single {
                            candidates
                                .push(Err(ConfigurationError::WideBaseAxles { wide, single }));
                            continue;
                        }
                        for &tyres in &tyre_choices {
                            for &suspension in &suspension_choices {
                                let resolved = Resolved {
                                    kind,
                                    axles,
                                    drive_axles,
                                    tyres,
                                    suspension,
                                    single_tyre_axles: single,
                                    wide_base_tyre_axles: wide,
                                    registration_kg,
                                };
                                candidates.push(resolved.limit().map(|(limit_kg, basis)| {
                                    Candidate {
                                        limit_kg,
                                        basis,
                                        kind,
                                    }
                                }));
                            }
                        }
                    }
                }
            }
        }
        let mut best: Option<Candidate> = None;
        let mut lowest = u32::MAX;
        let mut first_error = None;
        for candidate in candidates {
            match candidate {
                Ok(c) => {
                    lowest = lowest.min(c.limit_kg);
                    if best.as_ref().is_none_or(|b| c.limit_kg > b.limit_kg) {
                        best = Some(c);
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        // No consistent configuration: report why the first one failed.
        let Some(Candidate {
            limit_kg,
            basis,
            kind,
        }) = best
        else {
            return Err(first_error.unwrap_or(ConfigurationError::AxleCount(axles)));
        };
        Ok(LimitDetermination {
            limit_kg,
            lowest_possible_limit_kg: lowest,
            configuration_assumed: lowest < limit_kg,
            kind,
            basis,
            unknown_details: Vec::new(),
        })
    }
}

fn option_or_all<T: Copy>(value: Option<T>, all: &[T]) -> Vec<T> {
    match value {
        Some(v) => vec![v],
        None => all.to_vec(),
    }
}

/// Whether the Art. 3 table has a row for this body type and axle count.
fn table_has(kind: BodyType, axles: u8) -> bool {
    match kind {
        BodyType::Truck => (2..=4).contains(&axles),
        BodyType::CentreAxle | BodyType::Articulated | BodyType::FullTrailer => axles >= 3,
        BodyType::RegistrationLimited => true,
    }
}

impl Resolved {
    /// The limit of a fully known configuration, with the rows and adjustments that gave it.
    fn limit(&self) -> Result<(u32, Vec<String>), ConfigurationError> {
        const ART3: &str = "62号令 Art. 3";
        let mut basis = Vec::new();
        let single_drive = self.drive_axles == 1;
        let dual_air = self.tyres == DriveAxleTyres::Dual && self.suspension == Suspension::Air;
        let base: u32 = match (self.kind, self.axles) {
            (BodyType::RegistrationLimited, _) => {
                basis.push(format!(
                    "{ART3}: 拖拉机、农用车、低速车 以行驶证总质量 {} kg 为限",
                    self.registration_kg
                ));
                // No tyre adjustment applies to a registration mass.
                return Ok((self.registration_kg, basis));
            }
            (BodyType::Truck, 2) => row(&mut basis, "二轴货车", 18_000),
            (BodyType::Truck, 3) => row(&mut basis, "三轴货车", 25_000),
            (BodyType::Truck, _) => row(&mut basis, "四轴货车", 31_000),
            (_, 3) => row(&mut basis, "三轴汽车列车", 27_000),
            (BodyType::CentreAxle, 4) => {
                basis.push("124号 table: 四轴中置轴挂车列车 35000 kg".to_owned());
                35_000
            }
            (BodyType::Articulated, 4) if dual_air => {
                basis.push(
                    "124号 table: 四轴铰接列车, drive axle dual-tyred with air suspension 37000 kg"
                        .to_owned(),
                );
                37_000
            }
            (_, 4) => row(&mut basis, "四轴汽车列车", 36_000),
            (BodyType::Articulated, 5) if single_drive => {
                basis.push(
                    "124号 table: 五轴铰接列车, tractor with a single drive axle 42000 kg"
                        .to_owned(),
                );
                42_000
            }
            (_, 5) => row(&mut basis, "五轴汽车列车", 43_000),
            (_, _) if single_drive => {
                basis.push(format!(
                    "{ART3}: 六轴及以上汽车列车, tractor with a single drive axle 46000 kg"
                ));
                46_000
            }
            (_, _) => row(&mut basis, "六轴及以上汽车列车", 49_000),
        };
        let mut limit = base;
        if self.kind == BodyType::Truck && matches!(self.axles, 3 | 4) && dual_air {
            limit += AIR_SUSPENSION_BONUS_KG;
            basis.push(format!(
                "{ART3} ¶2: drive axle dual-tyred with air suspension +{AIR_SUSPENSION_BONUS_KG} kg"
            ));
        }
        let reduced_axles = self
            .single_tyre_axles
            .saturating_sub(self.wide_base_tyre_axles);
        if reduced_axles > 0 {
            let reduction = SINGLE_TYRE_AXLE_REDUCTION_KG * u32::from(reduced_axles);
            if reduction >= limit {
                return Err(ConfigurationError::NoPositiveLimit {
                    base_kg: limit,
                    reduction_kg: reduction,
                });
            }
            limit -= reduction;
            basis.push(format!(
                "{ART3} ¶2: {reduced_axles} single-tyre axle(s) without wide-base tyres −{reduction} kg"
            ));
        }
        Ok((limit, basis))
    }
}

fn row(basis: &mut Vec<String>, name: &str, kg: u32) -> u32 {
    basis.push(format!("62号令 Art. 3: {name} {kg} kg"));
    kg
}

/// An outer dimension of vehicle and load (车货外廓尺寸).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dimension {
    /// Height from the ground incl. load.
    Height,
    /// Width incl. load.
    Width,
    /// Length incl. load.
    Length,
}

impl Dimension {
    /// The Art. 3 limit, mm.
    pub fn limit_mm(self) -> u32 {
        match self {
            Dimension::Height => HEIGHT_LIMIT_MM,
            Dimension::Width => WIDTH_LIMIT_MM,
            Dimension::Length => LENGTH_LIMIT_MM,
        }
    }

    /// The Chinese term.
    pub fn chinese_name(self) -> &'static str {
        match self {
            Dimension::Height => "车货总高度",
            Dimension::Width => "车货总宽度",
            Dimension::Length => "车货总长度",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(
        kind: BodyType,
        axles: u8,
        drive: u8,
        tyres: DriveAxleTyres,
        suspension: Suspension,
    ) -> VehicleConfiguration {
        VehicleConfiguration {
            kind: Some(kind),
            axles,
            drive_axles: Some(drive),
            drive_axle_tyres: Some(tyres),
            suspension: Some(suspension),
            single_tyre_axles: Some(0),
            wide_base_tyre_axles: Some(0),
            registration_kg: None,
        }
    }

    use BodyType::*;
    use DriveAxleTyres::*;
    use Suspension::*;

    /// Every row of REFERENCE.md §2 and every adjustment, fully known configurations.
    #[test]
    fn every_table_row_and_adjustment() {
        let cases: &[(VehicleConfiguration, u32)] = &[
            (known(Truck, 2, 1, Dual, Other), 18_000),
            (known(Truck, 2, 1, Dual, Air), 18_000), // bonus only for 3/4 axles
            (known(Truck, 3, 2, Dual, Other), 25_000),
            (known(Truck, 3, 2, Dual, Air), 26_000),
            (known(Truck, 3, 2, Single, Air), 25_000),
            (known(Truck, 4, 2, Dual, Other), 31_000),
            (known(Truck, 4, 2, Dual, Air), 32_000),
            (known(CentreAxle, 3, 1, Dual, Other), 27_000),
            (known(Articulated, 3, 1, Dual, Other), 27_000),
            (known(CentreAxle, 4, 1, Dual, Air), 35_000),
            (known(Articulated, 4, 1, Dual, Other), 36_000),
            (known(Articulated, 4, 1, Dual, Air), 37_000),
            (known(FullTrailer, 4, 1, Dual, Air), 36_000),
            (known(CentreAxle, 5, 1, Dual, Other), 43_000),
            (known(Articulated, 5, 2, Dual, Other), 43_000),
            (known(Articulated, 5, 1, Dual, Other), 42_000),
            (known(FullTrailer, 5, 1, Dual, Other), 43_000),
            (known(Articulated, 6, 2, Dual, Other), 49_000),
            (known(Articulated, 6, 1, Dual, Other), 46_000),
            (known(CentreAxle, 6, 1, Dual, Air), 46_000),
            (known(FullTrailer, 7, 2, Dual, Other), 49_000),
        ];
        for (config, expected) in cases {
            let d = config.gross_limit().unwrap();
            assert_eq!(d.limit_kg, *expected, "{config:?}");
            assert!(!d.configuration_assumed, "{config:?}");
            assert_eq!(d.lowest_possible_limit_kg, *expected);
        }
    }

    #[test]
    fn single_tyre_axles_lower_the_limit_unless_wide_base() {
        let mut c = known(Articulated, 6, 2, Dual, Other);
        c.single_tyre_axles = Some(2);
        assert_eq!(c.gross_limit().unwrap().limit_kg, 43_000);
        c.wide_base_tyre_axles = Some(1);
        assert_eq!(c.gross_limit().unwrap().limit_kg, 46_000);
        c.wide_base_tyre_axles = Some(2);
        assert_eq!(c.gross_limit().unwrap().limit_kg, 49_000);
        c.wide_base_tyre_axles = Some(3);
        assert_eq!(
            c.gross_limit(),
            Err(ConfigurationError::WideBaseAxles { wide: 3, single: 2 })
        );
    }

    #[test]
    fn unknown_details_take_the_higher_limit_and_say_so() {
        // Only the axle count, as weighbridges report it.
        let expect = [
            (3, 27_000, 22_000),
            (4, 37_000, 25_000),
            (5, 43_000, 33_000),
            (6, 49_000, 34_000),
        ];
        for (axles, high, low) in expect {
            let d = VehicleConfiguration::axles_only(axles)
                .gross_limit()
                .unwrap();
            assert_eq!(d.limit_kg, high, "{axles} axles");
            assert_eq!(d.lowest_possible_limit_kg, low, "{axles} axles");
            assert!(d.configuration_assumed);
        }
        // Two axles can only be a rigid truck: nothing unknown changes 18 t.
        let d = VehicleConfiguration::axles_only(2).gross_limit().unwrap();
        assert_eq!((d.limit_kg, d.kind), (18_000, Truck));
        assert!(!d.configuration_assumed);
        // A 2-axle truck whose only unknowns cannot change its limit is not "assumed".
        let mut c = VehicleConfiguration::new(Truck, 2);
        c.single_tyre_axles = Some(0);
        let d = c.gross_limit().unwrap();
        assert_eq!(d.limit_kg, 18_000);
        assert!(!d.configuration_assumed);
        // Unknown drive axles on a 6-axle articulated: 49 t assumed, 46 t possible.
        let mut c = known(Articulated, 6, 1, Dual, Other);
        c.drive_axles = None;
        let d = c.gross_limit().unwrap();
        assert_eq!((d.limit_kg, d.lowest_possible_limit_kg), (49_000, 46_000));
        assert!(d.configuration_assumed);
        // Unknown suspension on a 3-axle truck with dual tyres: the +1000 is assumed.
        let mut c = known(Truck, 3, 2, Dual, Other);
        c.suspension = None;
        let d = c.gross_limit().unwrap();
        assert_eq!((d.limit_kg, d.lowest_possible_limit_kg), (26_000, 25_000));
    }

    #[test]
    fn a_three_axle_combination_is_not_a_three_axle_truck() {
        let truck = VehicleConfiguration::new(Truck, 3).gross_limit().unwrap();
        let combo = VehicleConfiguration::new(CentreAxle, 3)
            .gross_limit()
            .unwrap();
        assert_eq!(truck.kind, Truck);
        assert_eq!(combo.limit_kg, 27_000);
        assert!(truck.limit_kg <= 26_000);
    }

    #[test]
    fn registration_limited_uses_the_registration_mass() {
        let mut c = VehicleConfiguration::new(RegistrationLimited, 2);
        assert_eq!(
            c.gross_limit(),
            Err(ConfigurationError::MissingRegistrationMass)
        );
        c.registration_kg = Some(0);
        assert_eq!(
            c.gross_limit(),
            Err(ConfigurationError::ZeroRegistrationMass)
        );
        c.registration_kg = Some(4_500);
        c.axles = 3;
        c.single_tyre_axles = Some(1);
        let d = c.gross_limit().unwrap();
        assert_eq!(d.limit_kg, 4_500);
        assert!(!d.configuration_assumed);
        // Unknown kind never infers a registration-limited vehicle.
        let mut c = VehicleConfiguration::axles_only(2);
        c.registration_kg = Some(4_500);
        assert_eq!(c.gross_limit().unwrap().limit_kg, 18_000);
    }

    #[test]
    fn impossible_configurations_are_typed_errors() {
        assert_eq!(
            VehicleConfiguration::new(Truck, 5).gross_limit(),
            Err(ConfigurationError::NotInTable {
                kind: Truck,
                axles: 5
            })
        );
        assert_eq!(
            VehicleConfiguration::new(Articulated, 2).gross_limit(),
            Err(ConfigurationError::NotInTable {
                kind: Articulated,
                axles: 2
            })
        );
        assert_eq!(
            VehicleConfiguration::axles_only(1).gross_limit(),
            Err(ConfigurationError::AxleCount(1))
        );
        assert_eq!(
            VehicleConfiguration::axles_only(21).gross_limit(),
            Err(ConfigurationError::AxleCount(21))
        );
        let mut c = VehicleConfiguration::new(Truck, 3);
        c.drive_axles = Some(3);
        assert_eq!(
            c.gross_limit(),
            Err(ConfigurationError::DriveAxles { drive: 3, axles: 3 })
        );
        c.drive_axles = Some(0);
        assert!(c.gross_limit().is_err());
        let mut c = VehicleConfiguration::new(Truck, 3);
        c.drive_axles = Some(2);
        c.single_tyre_axles = Some(1);
        assert_eq!(
            c.gross_limit(),
            Err(ConfigurationError::SingleTyreAxles { single: 1, max: 0 })
        );
        // With drive axles unknown, one drive axle leaves room for one single-tyre axle.
        // Unknown wide-base tyres on it: assumed fitted, so no reduction yet.
        c.drive_axles = None;
        let d = c.gross_limit().unwrap();
        assert_eq!((d.limit_kg, d.lowest_possible_limit_kg), (26_000, 22_000));
        c.wide_base_tyre_axles = Some(0);
        assert_eq!(c.gross_limit().unwrap().limit_kg, 23_000);
        let msg = ConfigurationError::NotInTable {
            kind: Truck,
            axles: 5,
        }
        .to_string();
        assert_eq!(
            msg,
            "a truck (货车) with 5 axles is not in the Art. 3 table"
        );
    }

    #[test]
    fn wide_base_tyres_imply_single_tyre_axles_when_those_are_unknown() {
        let mut c = VehicleConfiguration::new(Articulated, 6);
        c.wide_base_tyre_axles = Some(1);
        let d = c.gross_limit().unwrap();
        assert_eq!(d.limit_kg, 49_000);
        // At least one single-tyre axle (the wide-base one) exists; up to four behind one drive axle.
        assert_eq!(d.lowest_possible_limit_kg, 46_000 - 3 * 3_000);
        c.wide_base_tyre_axles = Some(5);
        assert!(matches!(
            c.gross_limit(),
            Err(ConfigurationError::SingleTyreAxles { single: 5, .. })
        ));
    }

    #[test]
    fn reductions_never_reach_zero() {
        let mut c = known(FullTrailer, 20, 1, Dual, Other);
        c.single_tyre_axles = Some(18);
        assert_eq!(
            c.gross_limit(),
            Err(ConfigurationError::NoPositiveLimit {
                base_kg: 46_000,
                reduction_kg: 54_000
            })
        );
        // Unknown single-tyre axles: the impossible extreme is skipped, not reported as 0 kg.
        let mut c = VehicleConfiguration::new(FullTrailer, 20);
        c.drive_axles = Some(1);
        let d = c.gross_limit().unwrap();
        assert_eq!(d.limit_kg, 46_000);
        assert!(d.lowest_possible_limit_kg > 0);
    }

    #[test]
    fn implausible_registration_mass_is_refused() {
        let mut c = VehicleConfiguration::new(RegistrationLimited, 2);
        c.registration_kg = Some(u32::MAX);
        assert_eq!(
            c.gross_limit(),
            Err(ConfigurationError::ImplausibleRegistrationMass(u32::MAX))
        );
    }

    #[test]
    fn names_the_unknown_details_that_matter() {
        // 6-axle articulated, drive axles known: only the single-tyre/wide-base axles matter.
        let mut c = VehicleConfiguration::new(Articulated, 6);
        c.drive_axles = Some(2);
        let d = c.gross_limit().unwrap();
        assert_eq!(d.unknown_details, [Detail::SingleTyreAxles]);
        // Once single-tyre axles are known, whether they have wide-base tyres matters.
        c.single_tyre_axles = Some(2);
        let d = c.gross_limit().unwrap();
        assert_eq!(d.unknown_details, [Detail::WideBaseTyreAxles]);
        assert_eq!((d.limit_kg, d.lowest_possible_limit_kg), (49_000, 43_000));
        c.single_tyre_axles = Some(0);
        let d = c.gross_limit().unwrap();
        assert!(!d.configuration_assumed);
        assert!(d.unknown_details.is_empty());
        // Suspension and tyres matter on a 3-axle truck; drive axles do not.
        let mut c = known(Truck, 3, 2, Dual, Air);
        c.suspension = None;
        c.drive_axle_tyres = None;
        c.drive_axles = None;
        c.single_tyre_axles = Some(0);
        let d = c.gross_limit().unwrap();
        assert_eq!(
            d.unknown_details,
            [Detail::DriveAxleTyres, Detail::Suspension]
        );
        // Only the axle count: the kind matters.
        let d = VehicleConfiguration::axles_only(4).gross_limit().unwrap();
        assert!(d.unknown_details.contains(&Detail::Kind));
    }

    #[test]
    fn basis_names_the_rows_used() {
        let d = known(Truck, 3, 2, Dual, Air).gross_limit().unwrap();
        assert!(d.basis[0].contains("三轴货车 25000 kg"), "{:?}", d.basis);
        assert!(d.basis[1].contains("+1000"), "{:?}", d.basis);
    }
}
