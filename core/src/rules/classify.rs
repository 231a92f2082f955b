//! Classification of a measurement: compliant, or over-limit (超限) with excess, 超限率 and the
//! penalty estimate of 62号令 Art. 43; and, separately, over rated payload (超载).
//!
//! All arithmetic is in integers: exactly at the limit is compliant, 1 kg over is not, and the
//! 超限率 is kept as the exact fraction `excess_kg / limit_kg` so that tier boundaries (30 %,
//! 50 %) are compared exactly, never through a float.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::config::{PartTonneRounding, PenaltySubject, RulesConfig};
use super::vehicle::{ConfigurationError, Dimension, LimitDetermination, VehicleConfiguration};

/// Excess up to which Art. 43 (3) gives a warning only, kg.
pub const WARNING_UP_TO_KG: u64 = 1_000;
/// Fine per 1 000 kg over, yuan (62号令 Art. 43 (3)).
pub const FINE_PER_TONNE_YUAN: u64 = 500;
/// Cap of the mass fine, yuan (62号令 Art. 43 (3)).
pub const FINE_CAP_YUAN: u64 = 30_000;

/// A dimension fine band of 62号令 Art. 43 (2): vehicles whose height, width and length are all
/// within ("未超过") the ceilings, mm, may be fined within the range, yuan.
struct DimensionBand {
    ceilings_mm: [u32; 3],
    fine_yuan: (u32, u32),
}

/// The Art. 43 (2) bands in order; beyond the last: ¥1 000–3 000.
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rate {
    /// Excess, kg.
    pub numerator: u64,
    /// Limit (or rated payload), kg; never 0.
    pub denominator: u64,
}

impl Rate {
    /// The rate in basis points (1/100 of a percent), rounded down: 10.005 % → 1000.
    pub fn basis_points(self) -> u64 {
        self.numerator * 10_000 / self.denominator
    }

    /// Compares the exact rate with `percent` %.
    pub fn cmp_percent(self, percent: u64) -> Ordering {
        (self.numerator * 100).cmp(&(percent * self.denominator))
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
    /// True when the mass excess is over 0 and at most 1 000 kg: Art. 43 (3) gives a warning.
    pub mass_warning_only: bool,
    /// Mass fine, yuan: ¥500 per 1 000 kg over (part-tonnes per [`RulesConfig`]), capped at
    /// ¥30 000 (Art. 43 (3)); 0 when compliant or warning only.
    pub mass_fine_yuan: u32,
    /// Lowest dimension fine of the band, yuan (Art. 43 (2)); 0 without dimension excess.
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

/// Over rated payload (超载): load above the payload on the registration. A police matter
/// (道路交通安全法 Art. 48/92), recorded beside — never instead of — the 超限 verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overload {
    /// Load = gross − curb mass, kg (0 when the gross is below the curb mass).
    pub load_kg: u32,
    /// Rated payload, kg.
    pub rated_payload_kg: u32,
    /// `load_kg − rated_payload_kg`, 0 when not overloaded.
    pub excess_kg: u32,
    /// True when `load_kg > rated_payload_kg`.
    pub overloaded: bool,
    /// Exact 超载率 = excess / rated payload.
    pub rate: Rate,
    /// 超载率 in basis points, rounded down.
    pub rate_bp: u64,
    /// Licence points tier of the police (REFERENCE.md §2): ≥ 50 % → 6, 30 % to < 50 % → 3,
    /// > 0 and < 30 % → 1; 0 when not overloaded.
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
/// dimension is strictly over its limit. Penalty per Art. 43 (2) and (3). 超载 when load
/// (gross − curb) > rated payload.
///
/// # Errors
/// [`ConfigurationError`] when the configuration has no limit (see
/// [`VehicleConfiguration::gross_limit`]).
pub fn classify(
    config: &VehicleConfiguration,
    measurement: &Measurement,
    rules: &RulesConfig,
) -> Result<Classification, ConfigurationError> {
    let limit = config.gross_limit()?;
    let effective = measurement.gross_kg.saturating_sub(rules.tolerance_kg);
    let excess_kg = effective.saturating_sub(limit.limit_kg);
    let mass_over_limit = excess_kg > 0;
    let rate = Rate {
        numerator: u64::from(excess_kg),
        denominator: u64::from(limit.limit_kg.max(1)),
    };

    let dimension_excesses: Vec<DimensionExcess> = [
        (Dimension::Height, measurement.height_mm),
        (Dimension::Width, measurement.width_mm),
        (Dimension::Length, measurement.length_mm),
    ]
    .into_iter()
    .filter_map(|(dimension, measured)| {
        let measured_mm = measured?;
        let limit_mm = dimension.limit_mm();
        (measured_mm > limit_mm).then_some(DimensionExcess {
            dimension,
            measured_mm,
            limit_mm,
            excess_mm: measured_mm - limit_mm,
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
        overload: overload(measurement),
    })
}

/// Art. 43 (3): warning up to 1 000 kg; above, ¥500 per 1 000 kg, capped at ¥30 000.
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

/// Art. 43 (2) band: the first band whose ceilings ("未超过") hold all measured dimensions.
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

fn overload(m: &Measurement) -> Option<Overload> {
    let rated = m.rated_payload_kg.filter(|r| *r > 0)?;
    let curb = m.curb_kg?;
    let load_kg = m.gross_kg.saturating_sub(curb);
    let excess_kg = load_kg.saturating_sub(rated);
    let rate = Rate {
        numerator: u64::from(excess_kg),
        denominator: u64::from(rated),
    };
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
        load_kg,
        rated_payload_kg: rated,
        excess_kg,
        overloaded: excess_kg > 0,
        rate,
        rate_bp: rate.basis_points(),
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
        assert_eq!((o.load_kg, o.licence_points), (30_000, 0));
        // Over rated payload but within the 超限 limit: 超载 only.
        let v = classify_default(&c, &m(45_000, 20_000, 15_000));
        let o = v.overload.unwrap();
        assert!(o.overloaded && !v.over_limit);
        assert_eq!(
            (o.excess_kg, o.rate_bp, o.licence_points),
            (10_000, 5_000, 6)
        );
        // Tier boundaries, exact: 29.99…% → 1, 30 % → 3, 49.99…% → 3, 50 % → 6.
        let points = |load: u32| {
            classify_default(&c, &m(10_000 + load, 10_000, 10_000))
                .overload
                .unwrap()
                .licence_points
        };
        assert_eq!(points(10_000), 0);
        assert_eq!(points(10_001), 1);
        assert_eq!(points(12_999), 1);
        assert_eq!(points(13_000), 3);
        assert_eq!(points(14_999), 3);
        assert_eq!(points(15_000), 6);
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
        let a = Rate {
            numerator: 1,
            denominator: 3,
        };
        let b = Rate {
            numerator: 333_333,
            denominator: 1_000_000,
        };
        assert!(a > b);
        assert_eq!(a.cmp_percent(33), Ordering::Greater);
        assert_eq!(a.cmp_percent(34), Ordering::Less);
    }

    proptest! {
        #[test]
        fn classification_is_monotonic_in_gross_mass(
            axles in 2u8..=8,
            kind in proptest::option::of(proptest::sample::select(BodyType::ALL.to_vec())),
            registration_kg in 1u32..60_000,
            tolerance_kg in 0u32..2_000,
            a in 0u32..120_000,
            b in 0u32..120_000,
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
