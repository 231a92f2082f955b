//! Classification of a measurement: compliant, or over-limit (超限) with excess, 超限率 and the
//! penalty estimate of 62号令 Art. 43; and, separately, over rated payload (超载).
//!
//! All arithmetic is in integers: exactly at the limit is compliant, 1 kg over is not, and the
//! 超限率 is kept as the exact fraction `excess_kg / limit_kg` so that tier boundaries (30 %,
//! 50 %) are compared exactly, never through a float.

use std::cmp::Ordering;
use std::fmt;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::config::{PartTonneRounding, PenaltySubject, RulesConfig};
use super::vehicle::{ConfigurationError, Dimension, LimitDetermination, VehicleConfiguration};

/// The largest gross mass accepted, kg; more is an input error, not a vehicle.
pub const MAX_GROSS_KG: u32 = 1_000_000;

/// Why a measurement cannot be classified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClassifyError {
    /// The vehicle configuration has no limit.
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    /// A gross mass of 0 kg: nothing was weighed.
    #[error("gross mass must be greater than 0 kg")]
    ZeroGross,
    /// A gross mass above [`MAX_GROSS_KG`].
    #[error("gross mass {0} kg is above the plausible maximum of {MAX_GROSS_KG} kg")]
    ImplausibleGross(u32),
    /// A rated payload of 0 kg.
    #[error("rated payload must be greater than 0 kg")]
    ZeroRatedPayload,
}

/// Excess up to which Art. 43 (2) gives a warning only, kg.
pub const WARNING_UP_TO_KG: u64 = 1_000;
/// Fine per 1 000 kg over, yuan (62号令 Art. 43 (2)).
pub const FINE_PER_TONNE_YUAN: u64 = 500;
/// Cap of the mass fine, yuan (62号令 Art. 43 (2)).
pub const FINE_CAP_YUAN: u64 = 30_000;

/// A dimension fine band of 62号令 Art. 43 (1): vehicles whose height, width and length are all
/// within ("未超过") the ceilings, mm, may be fined within the range, yuan.
struct DimensionBand {
    ceilings_mm: [u32; 3],
    fine_yuan: (u32, u32),
}

/// The Art. 43 (1) bands in order; beyond the last: ¥1 000–3 000.
const DIMENSION_BANDS: [DimensionBand; 2] = [
    DimensionBand {
        ceilings_mm: [4_200, 3_000, 20_000],
        fine_yuan: (0, 200),
    },
    DimensionBand {
        ceilings_mm: [4_500, 3_750, 28_000],
        fine_yuan: (200, 1_000),
    },
];
const DIMENSION_TOP_BAND_YUAN: (u32, u32) = (1_000, 3_000);

/// What was measured at a weighbridge or a roadside check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// Gross mass of vehicle and load (车货总质量), kg.
    pub gross_kg: u32,
    /// Height from the ground incl. load, mm, if measured.
    #[serde(default)]
    pub height_mm: Option<u32>,
    /// Width incl. load, mm, if measured.
    #[serde(default)]
    pub width_mm: Option<u32>,
    /// Length incl. load, mm, if measured.
    #[serde(default)]
    pub length_mm: Option<u32>,
    /// Rated payload on the registration (核定载质量), kg, for the 超载 verdict.
    #[serde(default)]
    pub rated_payload_kg: Option<u32>,
    /// Curb mass on the registration (整备质量), kg, for the 超载 verdict.
    #[serde(default)]
    pub curb_kg: Option<u32>,
}

/// An exact ratio `numerator / denominator` (the 超限率 or 超载率), never rounded until shown.
/// The denominator is never 0 (checked on construction and deserialisation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RateRepr", into = "RateRepr")]
pub struct Rate {
    numerator: u64,
    denominator: u64,
}

#[derive(Serialize, Deserialize)]
struct RateRepr {
    numerator: u64,
    denominator: u64,
}

impl TryFrom<RateRepr> for Rate {
    type Error = &'static str;
    fn try_from(r: RateRepr) -> Result<Self, Self::Error> {
        Rate::new(r.numerator, r.denominator).ok_or("rate denominator must not be 0")
    }
}

impl From<Rate> for RateRepr {
    fn from(r: Rate) -> Self {
        RateRepr {
            numerator: r.numerator,
            denominator: r.denominator,
        }
    }
}

impl Rate {
    /// `numerator / denominator`; `None` when the denominator is 0.
    pub fn new(numerator: u64, denominator: u64) -> Option<Self> {
        (denominator > 0).then_some(Rate {
            numerator,
            denominator,
        })
    }

    /// The excess, kg.
    pub fn numerator(self) -> u64 {
        self.numerator
    }

    /// The base (limit or rated payload), kg; never 0.
    pub fn denominator(self) -> u64 {
        self.denominator
    }

    /// The rate in basis points (1/100 of a percent), rounded down: 10.005 % → 1000.
    pub fn basis_points(self) -> u64 {
        let bp = u128::from(self.numerator) * 10_000 / u128::from(self.denominator);
        u64::try_from(bp).unwrap_or(u64::MAX)
    }

    /// Compares the exact rate with `percent` %.
    pub fn cmp_percent(self, percent: u64) -> Ordering {
        (u128::from(self.numerator) * 100)
            .cmp(&(u128::from(percent) * u128::from(self.denominator)))
    }
}

impl PartialOrd for Rate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rate {
    fn cmp(&self, other: &Self) -> Ordering {
        (u128::from(self.numerator) * u128::from(other.denominator))
            .cmp(&(u128::from(other.numerator) * u128::from(self.denominator)))
    }
}

impl fmt::Display for Rate {
    /// Percent with two decimals, rounded down: `18.75%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bp = self.basis_points();
        write!(f, "{}.{:02}%", bp / 100, bp % 100)
    }
}

/// One outer dimension over its Art. 3 limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionExcess {
    /// Which dimension.
    pub dimension: Dimension,
    /// Measured, mm.
    pub measured_mm: u32,
    /// Limit, mm.
    pub limit_mm: u32,
    /// `measured_mm − limit_mm`, > 0.
    pub excess_mm: u32,
}

/// The penalty the transport authority may impose under 62号令 Art. 43, as an estimate to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenaltyEstimate {
    /// True when the mass excess is over 0 and at most 1 000 kg: Art. 43 (2) gives a warning.
    pub mass_warning_only: bool,
    /// Mass fine, yuan: ¥500 per 1 000 kg over (part-tonnes per [`RulesConfig`]), capped at
    /// ¥30 000 (Art. 43 (2)); 0 when compliant or warning only.
    pub mass_fine_yuan: u32,
    /// Lowest dimension fine of the band, yuan (Art. 43 (1)); 0 without dimension excess.
    pub dimension_fine_min_yuan: u32,
    /// Highest dimension fine of the band, yuan.
    pub dimension_fine_max_yuan: u32,
}

impl PenaltyEstimate {
    /// Lowest total, yuan.
    pub fn min_yuan(&self) -> u32 {
        self.mass_fine_yuan + self.dimension_fine_min_yuan
    }

    /// Highest total, yuan.
    pub fn max_yuan(&self) -> u32 {
        self.mass_fine_yuan + self.dimension_fine_max_yuan
    }
}

/// Over rated payload (超载): more load than the registration allows. A police matter
/// (道路交通安全法 Art. 48/92), recorded beside — never instead of — the 超限 verdict.
///
/// The licence points of 公安部令第163号 (2022) are tiered by how far the vehicle exceeds its
/// maximum permitted total mass (最大允许总质量, the 行驶证 total mass): ≥ 50 % → 6, 30 % to
/// < 50 % → 3, below 30 % → 1. REFERENCE.md §2 lists the tiers without naming the base; the
/// base here is the total mass, and the payload-based 超载率 is given beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overload {
    /// Maximum permitted total mass, kg: the registration total mass when given, else curb mass
    /// + rated payload.
    pub max_total_kg: u32,
    /// Load = gross − curb mass, kg (0 when the gross is below the curb mass), when the curb
    /// mass is known.
    pub load_kg: Option<u32>,
    /// Rated payload (核定载质量), kg, when known.
    pub rated_payload_kg: Option<u32>,
    /// `gross − max_total_kg`, kg (equal to load − rated payload), 0 when not overloaded.
    pub excess_kg: u32,
    /// True when the gross exceeds the maximum permitted total mass.
    pub overloaded: bool,
    /// Exact excess / maximum permitted total mass: the base of the licence points.
    pub rate: Rate,
    /// `rate` in basis points, rounded down.
    pub rate_bp: u64,
    /// Exact excess / rated payload (超载率 of the payload), when the rated payload is known.
    pub payload_rate: Option<Rate>,
    /// Licence points tier (公安部令第163号): 6, 3 or 1; 0 when not overloaded.
    pub licence_points: u8,
}

/// The verdict on one measurement under one [`RulesConfig`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// [`RulesConfig::id`] of the rules applied.
    pub rules_id: String,
    /// True when over the mass limit or any dimension limit (超限).
    pub over_limit: bool,
    /// True when over the gross mass limit.
    pub mass_over_limit: bool,
    /// Measured gross mass, kg.
    pub gross_kg: u32,
    /// Tolerance deducted, kg.
    pub tolerance_kg: u32,
    /// The limit applied, kg (the highest possible when details were unknown).
    pub limit_kg: u32,
    /// How the limit was found; see [`LimitDetermination::configuration_assumed`].
    pub limit: LimitDetermination,
    /// True when an unknown configuration detail changed the limit.
    pub configuration_assumed: bool,
    /// `gross − tolerance − limit`, kg, 0 when not over.
    pub excess_kg: u32,
    /// Exact 超限率 = excess / limit.
    pub rate: Rate,
    /// 超限率 in basis points, rounded down (1 kg over 49 000 → 0 bp, yet over).
    pub rate_bp: u64,
    /// Dimensions over their limits.
    pub dimension_excesses: Vec<DimensionExcess>,
    /// Penalty estimate (Art. 43).
    pub penalty: PenaltyEstimate,
    /// Highest total penalty, yuan (mass fine + top of the dimension band).
    pub penalty_yuan_max: u32,
    /// The "一超四罚" subjects, from [`RulesConfig::subjects`]; empty when not over-limit.
    pub subjects: Vec<PenaltySubject>,
    /// The 超载 verdict, when rated payload and curb mass were given.
    pub overload: Option<Overload>,
}

/// Classifies a measurement of a vehicle configuration under `rules`.
///
/// Over-limit (超限) when gross − tolerance > limit (62号令 Art. 3: strictly greater), or any
/// dimension is strictly over its limit. Penalty per Art. 43 (1) (dimensions) and (2) (mass).
/// 超载 when the gross exceeds the maximum permitted total mass (see [`Overload`]).
///
/// # Errors
/// [`ClassifyError::Configuration`] when the configuration has no limit (see
/// [`VehicleConfiguration::gross_limit`]); the other variants for implausible measurements.
pub fn classify(
    config: &VehicleConfiguration,
    measurement: &Measurement,
    rules: &RulesConfig,
) -> Result<Classification, ClassifyError> {
    match measurement.gross_kg {
        0 => return Err(ClassifyError::ZeroGross),
        g if g > MAX_GROSS_KG => return Err(ClassifyError::ImplausibleGross(g)),
        _ => {}
    }
    if measurement.rated_payload_kg == Some(0) {
        return Err(ClassifyError::ZeroRatedPayload);
    }
    let limit = config.gross_limit()?;
    let effective = measurement.gross_kg.saturating_sub(rules.tolerance_kg);
    let excess_kg = effective.saturating_sub(limit.limit_kg);
    let mass_over_limit = excess_kg > 0;
    // A limit is never 0 (`gross_limit` refuses such configurations).
    let rate = Rate::new(u64::from(excess_kg), u64::from(limit.limit_kg)).ok_or(
        ConfigurationError::NoPositiveLimit {
            base_kg: 0,
            reduction_kg: 0,
        },
    )?;

    let dimension_excesses: Vec<DimensionExcess> = [
        (Dimension::Height, measurement.height_mm),
        (Dimension::Width, measurement.width_mm),
        (Dimension::Length, measurement.length_mm),
    ]
    .into_iter()
    .filter_map(|(dimension, measured)| {
        let measured_mm = measured?;
        let limit_mm = dimension.limit_mm();
        let excess_mm = measured_mm.checked_sub(limit_mm).filter(|e| *e > 0)?;
        Some(DimensionExcess {
            dimension,
            measured_mm,
            limit_mm,
            excess_mm,
        })
    })
    .collect();

    let (dimension_fine_min_yuan, dimension_fine_max_yuan) = if dimension_excesses.is_empty() {
        (0, 0)
    } else {
        dimension_band(measurement)
    };
    let penalty = PenaltyEstimate {
        mass_warning_only: mass_over_limit && u64::from(excess_kg) <= WARNING_UP_TO_KG,
        mass_fine_yuan: mass_fine_yuan(excess_kg, rules.part_tonne_rounding),
        dimension_fine_min_yuan,
        dimension_fine_max_yuan,
    };
    let over_limit = mass_over_limit || !dimension_excesses.is_empty();
    Ok(Classification {
        rules_id: rules.id.clone(),
        over_limit,
        mass_over_limit,
        gross_kg: measurement.gross_kg,
        tolerance_kg: rules.tolerance_kg,
        limit_kg: limit.limit_kg,
        configuration_assumed: limit.configuration_assumed,
        limit,
        excess_kg,
        rate,
        rate_bp: rate.basis_points(),
        dimension_excesses,
        penalty_yuan_max: penalty.max_yuan(),
        penalty,
        subjects: if over_limit {
            rules.subjects.clone()
        } else {
            Vec::new()
        },
        overload: overload(measurement, config.registration_kg),
    })
}

/// Art. 43 (2): warning up to 1 000 kg; above, ¥500 per 1 000 kg, capped at ¥30 000.
fn mass_fine_yuan(excess_kg: u32, rounding: PartTonneRounding) -> u32 {
    let excess = u64::from(excess_kg);
    if excess <= WARNING_UP_TO_KG {
        return 0;
    }
    let tonnes = match rounding {
        PartTonneRounding::Up => excess.div_ceil(1_000),
        PartTonneRounding::Down => excess / 1_000,
    };
    let fine = (tonnes * FINE_PER_TONNE_YUAN).min(FINE_CAP_YUAN);
    u32::try_from(fine).unwrap_or(u32::MAX)
}

/// Art. 43 (1) band: the first band whose ceilings ("未超过") hold all measured dimensions.
fn dimension_band(m: &Measurement) -> (u32, u32) {
    let within = |value: Option<u32>, ceiling: u32| value.is_none_or(|v| v <= ceiling);
    let [height, width, length] = [m.height_mm, m.width_mm, m.length_mm];
    DIMENSION_BANDS
        .iter()
        .find(|band| {
            let [h, w, l] = band.ceilings_mm;
            within(height, h) && within(width, w) && within(length, l)
        })
        .map_or(DIMENSION_TOP_BAND_YUAN, |band| band.fine_yuan)
}

fn overload(m: &Measurement, registration_kg: Option<u32>) -> Option<Overload> {
    let from_parts = match (m.curb_kg, m.rated_payload_kg) {
        (Some(curb), Some(rated)) => curb.checked_add(rated),
        _ => None,
    };
    let max_total_kg = registration_kg.or(from_parts).filter(|t| *t > 0)?;
    let excess_kg = m.gross_kg.saturating_sub(max_total_kg);
    let rate = Rate::new(u64::from(excess_kg), u64::from(max_total_kg))?;
    let licence_points = if excess_kg == 0 {
        0
    } else if rate.cmp_percent(50) != Ordering::Less {
        6
    } else if rate.cmp_percent(30) != Ordering::Less {
        3
    } else {
        1
    };
    Some(Overload {
        max_total_kg,
        load_kg: m.curb_kg.map(|curb| m.gross_kg.saturating_sub(curb)),
        rated_payload_kg: m.rated_payload_kg,
        excess_kg,
        overloaded: excess_kg > 0,
        rate,
        rate_bp: rate.basis_points(),
        payload_rate: m
            .rated_payload_kg
            .and_then(|r| Rate::new(u64::from(excess_kg), u64::from(r))),
        licence_points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::vehicle::BodyType;
    use proptest::prelude::*;

    fn six_axle() -> VehicleConfiguration {
        let mut c = VehicleConfiguration::new(BodyType::Articulated, 6);
        c.drive_axles = Some(2);
        c.single_tyre_axles = Some(0);
        c
    }

    fn weigh(gross_kg: u32) -> Measurement {
        Measurement {
            gross_kg,
            ..Default::default()
        }
    }

    fn classify_default(c: &VehicleConfiguration, m: &Measurement) -> Classification {
        classify(c, m, &RulesConfig::default()).unwrap()
    }

    /// Both sides of every Art. 3 boundary: exactly at the limit is compliant, 1 kg over is not.
    #[test]
    fn both_sides_of_every_limit() {
        use BodyType::*;
        let configs: Vec<(VehicleConfiguration, u32)> = [
            (Truck, 2, 18_000),
            (Truck, 3, 25_000),
            (Truck, 4, 31_000),
            (CentreAxle, 3, 27_000),
            (CentreAxle, 4, 35_000),
            (Articulated, 4, 36_000),
            (FullTrailer, 4, 36_000),
            (Articulated, 5, 43_000),
            (CentreAxle, 6, 49_000),
        ]
        .into_iter()
        .map(|(kind, axles, limit)| {
            let mut c = VehicleConfiguration::new(kind, axles);
            c.drive_axles = Some(2.min(axles - 1));
            c.drive_axle_tyres = Some(crate::rules::DriveAxleTyres::Single);
            c.suspension = Some(crate::rules::Suspension::Other);
            c.single_tyre_axles = Some(0);
            (c, limit)
        })
        .collect();
        for (c, limit) in configs {
            let at = classify_default(&c, &weigh(limit));
            assert!(!at.over_limit, "{c:?} at {limit}");
            assert_eq!((at.limit_kg, at.excess_kg, at.rate_bp), (limit, 0, 0));
            assert!(at.subjects.is_empty());
            let over = classify_default(&c, &weigh(limit + 1));
            assert!(
                over.over_limit && over.mass_over_limit,
                "{c:?} at {limit}+1"
            );
            assert_eq!(over.excess_kg, 1);
            assert!(over.penalty.mass_warning_only);
            assert_eq!(over.subjects.len(), 4);
        }
    }

    #[test]
    fn rate_and_penalty_of_a_typical_finding() {
        // 6-axle articulated at 52 300 kg: 3 300 kg over 49 t.
        let v = classify_default(&six_axle(), &weigh(52_300));
        assert_eq!(v.excess_kg, 3_300);
        assert_eq!(
            v.rate,
            Rate {
                numerator: 3_300,
                denominator: 49_000
            }
        );
        assert_eq!(v.rate_bp, 673); // 6.7346…% rounded down
        assert_eq!(v.rate.to_string(), "6.73%");
        assert!(!v.penalty.mass_warning_only);
        assert_eq!(v.penalty.mass_fine_yuan, 2_000); // 4 tonnes started × 500
        assert_eq!(v.penalty_yuan_max, 2_000);
    }

    #[test]
    fn mass_fine_bands_rounding_and_cap() {
        let up = PartTonneRounding::Up;
        let down = PartTonneRounding::Down;
        assert_eq!(mass_fine_yuan(0, up), 0);
        assert_eq!(mass_fine_yuan(1_000, up), 0); // warning
        assert_eq!(mass_fine_yuan(1_001, up), 1_000);
        assert_eq!(mass_fine_yuan(1_001, down), 500);
        assert_eq!(mass_fine_yuan(2_000, up), 1_000);
        assert_eq!(mass_fine_yuan(1_999, down), 500);
        assert_eq!(mass_fine_yuan(59_001, up), 30_000);
        assert_eq!(mass_fine_yuan(59_000, up), 29_500);
        assert_eq!(mass_fine_yuan(u32::MAX, up), 30_000);
        assert_eq!(mass_fine_yuan(u32::MAX, down), 30_000);
        let rules = RulesConfig {
            part_tonne_rounding: down,
            ..RulesConfig::default()
        };
        let v = classify(&six_axle(), &weigh(52_300), &rules).unwrap();
        assert_eq!(v.penalty.mass_fine_yuan, 1_500);
    }

    #[test]
    fn tolerance_is_deducted_in_the_partys_favour() {
        let rules = RulesConfig {
            tolerance_kg: 500,
            ..RulesConfig::default()
        };
        let at = classify(&six_axle(), &weigh(49_500), &rules).unwrap();
        assert!(!at.over_limit);
        let over = classify(&six_axle(), &weigh(49_501), &rules).unwrap();
        assert!(over.over_limit);
        assert_eq!(over.excess_kg, 1);
        assert_eq!(over.tolerance_kg, 500);
    }

    #[test]
    fn dimensions_over_limit_and_their_bands() {
        let c = six_axle();
        let mut m = weigh(40_000);
        m.height_mm = Some(4_000);
        m.width_mm = Some(2_550);
        m.length_mm = Some(18_100);
        let v = classify_default(&c, &m);
        assert!(
            !v.over_limit,
            "exactly at every dimension limit is compliant"
        );
        m.height_mm = Some(4_001);
        let v = classify_default(&c, &m);
        assert!(v.over_limit && !v.mass_over_limit);
        assert_eq!(
            v.dimension_excesses,
            [DimensionExcess {
                dimension: Dimension::Height,
                measured_mm: 4_001,
                limit_mm: 4_000,
                excess_mm: 1
            }]
        );
        assert_eq!(
            (
                v.penalty.dimension_fine_min_yuan,
                v.penalty.dimension_fine_max_yuan
            ),
            (0, 200)
        );
        assert_eq!(v.subjects.len(), 4);
        m.height_mm = Some(4_200);
        assert_eq!(classify_default(&c, &m).penalty_yuan_max, 200);
        m.height_mm = Some(4_201);
        assert_eq!(classify_default(&c, &m).penalty_yuan_max, 1_000);
        m.width_mm = Some(3_750);
        assert_eq!(classify_default(&c, &m).penalty_yuan_max, 1_000);
        m.width_mm = Some(3_751);
        let v = classify_default(&c, &m);
        assert_eq!((v.penalty.min_yuan(), v.penalty.max_yuan()), (1_000, 3_000));
        assert_eq!(v.dimension_excesses.len(), 2);
        m.width_mm = None;
        m.height_mm = None;
        m.length_mm = Some(28_001);
        assert_eq!(classify_default(&c, &m).penalty_yuan_max, 3_000);
        // Mass and dimension fines add up.
        m.gross_kg = 52_300;
        assert_eq!(classify_default(&c, &m).penalty_yuan_max, 5_000);
    }

    #[test]
    fn overload_is_reported_separately_with_licence_points() {
        let c = six_axle();
        let m = |gross_kg, rated, curb| Measurement {
            gross_kg,
            rated_payload_kg: Some(rated),
            curb_kg: Some(curb),
            ..Default::default()
        };
        // Load 30 000 on rated 30 000: not overloaded; 49 t limit not exceeded either.
        let v = classify_default(&c, &m(45_000, 30_000, 15_000));
        let o = v.overload.unwrap();
        assert!(!o.overloaded && !v.over_limit);
        assert_eq!((o.load_kg, o.licence_points), (Some(30_000), 0));
        // Over rated payload but within the 超限 limit: 超载 only.
        let v = classify_default(&c, &m(45_000, 20_000, 15_000));
        let o = v.overload.unwrap();
        assert!(o.overloaded && !v.over_limit);
        // 10 t over a 35 t maximum total (28.57 %) → 1 point; 50 % of the rated payload.
        assert_eq!(
            (o.max_total_kg, o.excess_kg, o.rate_bp, o.licence_points),
            (35_000, 10_000, 2_857, 1)
        );
        assert_eq!(o.payload_rate.map(Rate::basis_points), Some(5_000));
        assert_eq!(o.load_kg, Some(30_000));
        // Tier boundaries on a 20 t maximum total, exact: 29.99…% → 1, 30 % → 3,
        // 49.99…% → 3, 50 % → 6.
        let points = |load: u32| {
            classify_default(&c, &m(10_000 + load, 10_000, 10_000))
                .overload
                .unwrap()
                .licence_points
        };
        assert_eq!(points(10_000), 0);
        assert_eq!(points(10_001), 1);
        assert_eq!(points(15_999), 1);
        assert_eq!(points(16_000), 3);
        assert_eq!(points(19_999), 3);
        assert_eq!(points(20_000), 6);
        // The registration total mass, when given, is the maximum permitted total mass.
        let mut registered = c.clone();
        registered.registration_kg = Some(40_000);
        let o = classify(&registered, &weigh(46_000), &RulesConfig::default())
            .unwrap()
            .overload
            .unwrap();
        assert_eq!(
            (o.max_total_kg, o.excess_kg, o.licence_points),
            (40_000, 6_000, 1)
        );
        assert_eq!((o.load_kg, o.payload_rate), (None, None));
        // Missing either registration figure: no 超载 verdict.
        let mut only_rated = weigh(45_000);
        only_rated.rated_payload_kg = Some(20_000);
        assert!(classify_default(&c, &only_rated).overload.is_none());
    }

    #[test]
    fn assumed_configuration_is_carried_into_the_verdict() {
        let v = classify_default(&VehicleConfiguration::axles_only(6), &weigh(47_000));
        assert!(v.configuration_assumed);
        assert_eq!(v.limit_kg, 49_000);
        assert!(!v.over_limit, "never over-limit on a guess of 46 t");
        assert_eq!(v.limit.lowest_possible_limit_kg, 34_000);
    }

    #[test]
    fn rates_compare_exactly() {
        let a = Rate::new(1, 3).unwrap();
        let b = Rate::new(333_333, 1_000_000).unwrap();
        assert!(a > b);
        assert_eq!(a.cmp_percent(33), Ordering::Greater);
        assert_eq!(a.cmp_percent(34), Ordering::Less);
        assert_eq!(Rate::new(1, 0), None);
        let huge = Rate::new(u64::MAX, 1).unwrap();
        assert_eq!(huge.basis_points(), u64::MAX);
        assert_eq!(huge.cmp_percent(u64::MAX), Ordering::Greater);
        assert!(!huge.to_string().is_empty());
        // A zero denominator in JSON is a deserialisation error, not a later panic.
        assert!(serde_json::from_str::<Rate>(r#"{"numerator":5,"denominator":0}"#).is_err());
        let r: Rate = serde_json::from_str(r#"{"numerator":5,"denominator":7}"#).unwrap();
        assert_eq!(r, Rate::new(5, 7).unwrap());
    }

    #[test]
    fn dimensions_under_their_limits_are_no_excess() {
        let m = Measurement {
            gross_kg: 10_000,
            height_mm: Some(3_999),
            width_mm: Some(1),
            length_mm: Some(0),
            ..Default::default()
        };
        let v = classify_default(&six_axle(), &m);
        assert!(!v.over_limit && v.dimension_excesses.is_empty());
        assert_eq!(v.penalty_yuan_max, 0);
    }

    #[test]
    fn implausible_measurements_are_refused() {
        let rules = RulesConfig::default();
        assert_eq!(
            classify(&six_axle(), &weigh(0), &rules),
            Err(ClassifyError::ZeroGross)
        );
        assert_eq!(
            classify(&six_axle(), &weigh(u32::MAX), &rules),
            Err(ClassifyError::ImplausibleGross(u32::MAX))
        );
        let mut m = weigh(30_000);
        m.rated_payload_kg = Some(0);
        m.curb_kg = Some(10_000);
        assert_eq!(
            classify(&six_axle(), &m, &rules),
            Err(ClassifyError::ZeroRatedPayload)
        );
        // An empty truck weighed a little under its registered curb mass is not an error.
        let mut m = weigh(9_900);
        m.rated_payload_kg = Some(20_000);
        m.curb_kg = Some(10_000);
        let o = classify(&six_axle(), &m, &rules).unwrap().overload.unwrap();
        assert_eq!((o.load_kg, o.overloaded), (Some(0), false));
    }

    proptest! {
        #[test]
        fn classification_is_monotonic_in_gross_mass(
            axles in 2u8..=8,
            kind in proptest::option::of(proptest::sample::select(BodyType::ALL.to_vec())),
            registration_kg in 1u32..60_000,
            tolerance_kg in 0u32..2_000,
            a in 1u32..120_000,
            b in 1u32..120_000,
        ) {
            let mut config = VehicleConfiguration { kind, axles, ..Default::default() };
            config.registration_kg = Some(registration_kg);
            let rules = RulesConfig { tolerance_kg, ..RulesConfig::default() };
            let (lo, hi) = (a.min(b), a.max(b));
            let light = classify(&config, &weigh(lo), &rules);
            let heavy = classify(&config, &weigh(hi), &rules);
            match (light, heavy) {
                (Ok(l), Ok(h)) => {
                    prop_assert_eq!(l.limit_kg, h.limit_kg);
                    prop_assert!(l.excess_kg <= h.excess_kg);
                    prop_assert!(l.rate <= h.rate);
                    prop_assert!(l.rate_bp <= h.rate_bp);
                    prop_assert!(!l.over_limit || h.over_limit);
                    prop_assert!(l.penalty_yuan_max <= h.penalty_yuan_max);
                    prop_assert_eq!(h.over_limit, u64::from(hi) > u64::from(h.limit_kg) + u64::from(tolerance_kg));
                }
                (Err(l), Err(h)) => prop_assert_eq!(l, h),
                (l, h) => prop_assert!(false, "validity must not depend on mass: {l:?} {h:?}"),
            }
        }
    }
}
