//! The demo's county: five source units in three jurisdictions and a morning of their
//! weighbridges' records, all derived from the seed.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use zhichao_core::calendar::LocalDay;
use zhichao_core::jurisdiction::{AdminCode, SourceUnitKind};
use zhichao_core::rules::{BodyType, VehicleConfiguration};
use zhichao_core::uscc::{self, Uscc};
use zhichao_core::weighing::{SnapshotRef, SnapshotRole, WeighingRecord, WeighingResult};

/// A source unit of the demo.
#[derive(Clone, Debug)]
pub(crate) struct DemoUnit {
    /// Its code.
    pub(crate) uscc: Uscc,
    /// Registered name.
    pub(crate) name: &'static str,
    /// Short tag used in record ids.
    pub(crate) tag: &'static str,
    /// Kind (decides the jurisdiction).
    pub(crate) kind: SourceUnitKind,
    /// Township code.
    pub(crate) township: AdminCode,
    /// Township name.
    pub(crate) township_name: &'static str,
    /// Cargo it ships.
    pub(crate) cargo: &'static str,
}

/// The five units: two coal mines (应急管理局), one ceramics plant (开发区), two quarries of
/// one township (润城镇) — three jurisdictions. Codes are derived from the seed and valid
/// (GB 32100-2015 check character).
pub(crate) fn units(seed: u64) -> Vec<DemoUnit> {
    let table: [(&str, &str, SourceUnitKind, &str, &str, &str); 5] = [
        (
            "阳城县东冶煤业有限公司",
            "DY",
            SourceUnitKind::CoalMine,
            "140522103",
            "东冶镇",
            "原煤",
        ),
        (
            "阳城县北留煤业有限公司",
            "BL",
            SourceUnitKind::CoalMine,
            "140522101",
            "北留镇",
            "洗精煤",
        ),
        (
            "阳城县凤城陶瓷有限公司",
            "FC",
            SourceUnitKind::Ceramics,
            "140522100",
            "凤城镇",
            "陶瓷砖",
        ),
        (
            "阳城县润城砂石料场",
            "RC",
            SourceUnitKind::Quarry,
            "140522102",
            "润城镇",
            "碎石",
        ),
        (
            "阳城县润城石料加工厂",
            "RS",
            SourceUnitKind::Quarry,
            "140522102",
            "润城镇",
            "机制砂",
        ),
    ];
    table
        .iter()
        .enumerate()
        .map(|(i, &(name, tag, kind, township, township_name, cargo))| {
            // 9 (工商) 1 (企业) 140522 (阳城县) + a 9-digit organisation code from the seed.
            let org = (seed.wrapping_mul(7_919).wrapping_add(i as u64 * 104_729)) % 1_000_000_000;
            let first17 = format!("91140522{org:09}");
            let check = uscc::check_char(&first17).unwrap_or('0');
            DemoUnit {
                uscc: format!("{first17}{check}")
                    .parse()
                    .unwrap_or_else(|e| unreachable!("a computed code is valid: {e}")),
                name,
                tag,
                kind,
                township: township
                    .parse()
                    .unwrap_or_else(|e| unreachable!("a fixed code is valid: {e}")),
                township_name,
                cargo,
            }
        })
        .collect()
}

/// A truck of the demo's fleet: plate, configuration as the vehicle really is, tare.
#[derive(Clone, Debug)]
pub(crate) struct Truck {
    pub(crate) plate: String,
    pub(crate) configuration: VehicleConfiguration,
    pub(crate) tare_kg: u32,
    pub(crate) limit_kg: u32,
}

fn truck(rng: &mut StdRng, plate: String) -> Truck {
    let (configuration, tare, limit) = match rng.random_range(0..10) {
        0 => (VehicleConfiguration::new(BodyType::Truck, 2), 8_000, 18_000),
        1 => (
            VehicleConfiguration::new(BodyType::Truck, 3),
            12_000,
            25_000,
        ),
        2 => (
            VehicleConfiguration::new(BodyType::Truck, 4),
            14_000,
            31_000,
        ),
        3 | 4 => {
            let mut c = VehicleConfiguration::new(BodyType::Articulated, 5);
            c.drive_axles = Some(2);
            (c, 15_000, 43_000)
        }
        _ => {
            let mut c = VehicleConfiguration::new(BodyType::Articulated, 6);
            c.drive_axles = Some(2);
            c.single_tyre_axles = Some(0);
            (c, 16_000, 49_000)
        }
    };
    Truck {
        plate,
        configuration,
        tare_kg: tare + rng.random_range(0..1_500),
        limit_kg: limit,
    }
}

/// The fleet: 80 trucks with plates of 晋E (晋城), 晋L (临汾) and 豫H (焦作).
pub(crate) fn fleet(seed: u64) -> Vec<Truck> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7472_7563_6b73);
    let mut plates = std::collections::BTreeSet::new();
    let mut trucks = Vec::new();
    while trucks.len() < 80 {
        let prefix = match rng.random_range(0..10) {
            0 => "晋L",
            1 => "豫H",
            _ => "晋E",
        };
        let plate = format!("{prefix}{:05}", rng.random_range(10_000..100_000));
        if plates.insert(plate.clone()) {
            trucks.push(truck(&mut rng, plate));
        }
    }
    trucks
}

/// The truck the patrol meets at the roadside: a six-axle articulated vehicle that leaves
/// the first coal mine 3 300 kg over its 49 t limit (and is reported by axle count only).
pub(crate) const FLAGGED_GROSS_KG: u32 = 52_300;

/// One record as the weighbridge software would upload it, with the unit it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Weighing {
    pub(crate) unit: usize,
    pub(crate) record: WeighingRecord,
}

fn snapshot(seed: u64, record_id: &str, role: SnapshotRole) -> SnapshotRef {
    use sha2::{Digest, Sha256};
    // The photos stay at the site's video system; the record carries their hashes.
    let digest = Sha256::digest(format!("{seed}/{record_id}/{role:?}").as_bytes());
    SnapshotRef {
        role,
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// A morning of records: `per_unit` for each unit, spread over the four hours before
/// `now_ms`, most within the limit, about one in twenty over it (some stopped at the barrier,
/// some unloaded and weighed again, some let out: over-limit departures), and the flagged
/// truck's departure from the first unit, which is returned separately (uploaded on its own).
pub(crate) fn morning(
    seed: u64,
    units: &[DemoUnit],
    fleet: &[Truck],
    per_unit: usize,
    now_ms: i64,
) -> (Vec<Weighing>, Weighing) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x006d_6f72_6e69_6e67);
    let day = LocalDay::of_ms(now_ms)
        .map_or_else(|| "00000000".to_owned(), |d| d.to_string().replace('-', ""));
    let span_ms: i64 = 4 * 3_600_000;
    let start_ms = now_ms - span_ms - 600_000;
    let mut out = Vec::new();
    for (u, unit) in units.iter().enumerate() {
        for i in 0..per_unit {
            let truck = &fleet[rng.random_range(0..fleet.len())];
            let record_id = format!("{}-{day}-{:04}", unit.tag, i + 1);
            let weighed_at_ms = start_ms
                + span_ms * i64::try_from(i).unwrap_or(0) / i64::try_from(per_unit).unwrap_or(1)
                + rng.random_range(0..60_000);
            let over = rng.random_range(0..20) == 0;
            let mut gross = if over {
                truck.limit_kg + rng.random_range(500..6_000)
            } else {
                truck.limit_kg * rng.random_range(80..100) / 100
            };
            let mut result = WeighingResult::Passed;
            if over {
                match rng.random_range(0..5) {
                    0 | 1 => result = WeighingResult::Blocked,
                    2 => {
                        result = WeighingResult::UnloadedAndReweighed;
                        gross = truck.limit_kg - rng.random_range(200..2_000);
                    }
                    _ => {}
                }
            }
            let gross = gross.max(truck.tare_kg + 1_000);
            // Seven in ten weighbridges report only the axle count.
            let vehicle = if rng.random_range(0..10) < 7 {
                VehicleConfiguration::axles_only(truck.configuration.axles)
            } else {
                truck.configuration.clone()
            };
            let exit_at_ms = (result != WeighingResult::Blocked)
                .then(|| weighed_at_ms + rng.random_range(60_000..240_000));
            out.push(Weighing {
                unit: u,
                record: WeighingRecord {
                    photos: vec![
                        snapshot(seed, &record_id, SnapshotRole::Front),
                        snapshot(seed, &record_id, SnapshotRole::Rear),
                        snapshot(seed, &record_id, SnapshotRole::Cab),
                    ],
                    record_id: record_id.clone(),
                    lane: Some(format!("{}号磅", 1 + i % 2)),
                    plate: truck.plate.clone(),
                    plate_colour: Some("黄".to_owned()),
                    vehicle,
                    gross_kg: gross,
                    tare_kg: Some(truck.tare_kg),
                    net_kg: Some(gross - truck.tare_kg),
                    cargo: Some(unit.cargo.to_owned()),
                    loading_slip_no: Some(format!("ZZD{}{day}{:04}", unit.tag, i + 1)),
                    entry_at_ms: Some(weighed_at_ms - rng.random_range(300_000..1_200_000)),
                    weighed_at_ms,
                    exit_at_ms,
                    result,
                },
            });
        }
    }
    let flagged_truck = fleet
        .iter()
        .find(|t| t.configuration.axles == 6)
        .unwrap_or(&fleet[0]);
    let weighed_at_ms = now_ms - 2 * 3_600_000;
    let record_id = format!("{}-{day}-{:04}", units[0].tag, per_unit + 1);
    let flagged = Weighing {
        unit: 0,
        record: WeighingRecord {
            photos: vec![
                snapshot(seed, &record_id, SnapshotRole::Front),
                snapshot(seed, &record_id, SnapshotRole::Rear),
            ],
            record_id,
            lane: Some("1号磅".to_owned()),
            plate: flagged_truck.plate.clone(),
            plate_colour: Some("黄".to_owned()),
            vehicle: VehicleConfiguration::axles_only(6),
            gross_kg: FLAGGED_GROSS_KG,
            tare_kg: Some(flagged_truck.tare_kg),
            net_kg: Some(FLAGGED_GROSS_KG - flagged_truck.tare_kg),
            cargo: Some(units[0].cargo.to_owned()),
            loading_slip_no: None,
            entry_at_ms: Some(weighed_at_ms - 900_000),
            weighed_at_ms,
            exit_at_ms: Some(weighed_at_ms + 180_000),
            result: WeighingResult::Passed,
        },
    };
    (out, flagged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_county_and_morning() {
        let now = 1_796_000_000_000;
        let a = units(7);
        let b = units(7);
        assert_eq!(
            a.iter().map(|u| u.uscc.to_string()).collect::<Vec<_>>(),
            b.iter().map(|u| u.uscc.to_string()).collect::<Vec<_>>()
        );
        assert_ne!(a[0].uscc, units(8)[0].uscc);
        let (m1, f1) = morning(7, &a, &fleet(7), 60, now);
        let (m2, f2) = morning(7, &b, &fleet(7), 60, now);
        assert_eq!(m1.len(), 300);
        assert_eq!(
            m1.iter().map(|w| w.record.clone()).collect::<Vec<_>>(),
            m2.iter().map(|w| w.record.clone()).collect::<Vec<_>>()
        );
        assert_eq!(f1.record, f2.record);
        for w in m1.iter().chain([&f1]) {
            w.record
                .check(now)
                .unwrap_or_else(|e| panic!("{e}: {:?}", w.record));
        }
        assert_eq!(fleet(7).len(), 80);
    }
}
