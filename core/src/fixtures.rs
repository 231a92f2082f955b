//! Sample documents and principals for tests, simulations and demos: one roadside case of a
//! joint patrol in 阳城县, built the way a phone builds it. Not for production data.

use automerge::ActorId;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::access::Principal;
use crate::docs::{
    Agency, Case, CaseKind, DocKind, Header, Officer, OnSiteRecord, SCHEMA_VERSION, TypedDoc,
};
use crate::ids::{CaseNumber, DevicePrefix, DocumentId, EnforcementId, PrincipalId, TeamId};
use crate::jurisdiction::{AdminCode, YANGCHENG_COUNTY};
use crate::rules::RulesConfig;
use crate::scope::Scope;

/// A principal id; panics on an invalid literal (fixtures take literals only).
pub fn pid(s: &str) -> PrincipalId {
    PrincipalId::new(s).unwrap_or_else(|e| panic!("fixture principal {s:?}: {e}"))
}

/// The whole of 阳城县.
pub fn county() -> Scope {
    Scope::county(YANGCHENG_COUNTY).unwrap_or_else(|e| panic!("fixture county: {e}"))
}

/// Another county (沁水县 140521), for access tests.
pub fn other_county() -> Scope {
    let code: AdminCode = "140521"
        .parse()
        .unwrap_or_else(|e| panic!("fixture code: {e}"));
    Scope::county(code).unwrap_or_else(|e| panic!("fixture county: {e}"))
}

/// An officer of `team` working in the county.
pub fn officer(id: &str, team: &str) -> Principal {
    Principal::Officer {
        id: pid(id),
        team: TeamId::new(team).unwrap_or_else(|e| panic!("fixture team: {e}")),
        scope: county(),
    }
}

/// An officer of another county.
pub fn officer_elsewhere(id: &str) -> Principal {
    Principal::Officer {
        id: pid(id),
        team: TeamId::new("team-9").unwrap_or_else(|e| panic!("fixture team: {e}")),
        scope: other_county(),
    }
}

/// The two officers of a joint patrol: a transport inspector and a traffic policeman.
pub fn joint_patrol() -> Vec<Officer> {
    let id = |s: &str| EnforcementId::new(s).unwrap_or_else(|e| panic!("fixture id: {e}"));
    vec![
        Officer {
            name: "王强".to_owned(),
            enforcement_id: id("14052219001"),
            agency: Agency::Transport,
        },
        Officer {
            name: "李明".to_owned(),
            enforcement_id: id("140522"),
            agency: Agency::TrafficPolice,
        },
    ]
}

/// The header of a county-wide case of `team` created by `by`.
pub fn case_header(by: &str, team: &str) -> Header {
    Header {
        kind: DocKind::Case,
        schema: SCHEMA_VERSION,
        scope: county(),
        team: Some(TeamId::new(team).unwrap_or_else(|e| panic!("fixture team: {e}"))),
        unit: None,
        parent: None,
        created_by: pid(by),
        created_at_ms: 0,
    }
}

/// A roadside case body with case number `K7Q2-2026-{sequence}`.
pub fn case_body(sequence: u32) -> Case {
    let number = DevicePrefix::new("K7Q2")
        .and_then(|p| CaseNumber::new(p, 2026, sequence.max(1)))
        .unwrap_or_else(|e| panic!("fixture case number: {e}"));
    Case::new(
        number,
        CaseKind::RoadsideCheck,
        &RulesConfig::default(),
        OnSiteRecord {
            place: "S329".into(),
            gps: None,
            started_at_ms: 0,
            ended_at_ms: None,
            officers: joint_patrol(),
            person_on_site: None,
        },
    )
}

/// A roadside case of `team` created by `by`, its id drawn from `seed`, written by a fresh
/// actor: header and body in one change whose first operation creates the header.
pub fn case(seed: u64, by: &str, team: &str) -> TypedDoc<Case> {
    let id = DocumentId::generate(&mut StdRng::seed_from_u64(seed));
    let sequence = u32::try_from(seed % 100_000).unwrap_or(1);
    TypedDoc::create(
        id,
        ActorId::random(),
        &case_header(by, team),
        &case_body(sequence),
    )
    .unwrap_or_else(|e| panic!("fixture case: {e}"))
}

/// A baseline JPEG photo of `width` × `height` pixels (at most 65 535 each), quality 95, no
/// EXIF: a colour gradient with deterministic noise from `seed`, so it compresses like a real
/// photo (about 1 byte a pixel) and two seeds give two different files.
pub fn photo_jpeg(width: u16, height: u16, seed: u64) -> Vec<u8> {
    use rand::RngExt;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..u32::from(height) {
        for x in 0..u32::from(width) {
            let noise: u8 = rng.random_range(0..64);
            let r = (x * 255 / u32::from(width).max(1)) as u8;
            let g = (y * 255 / u32::from(height).max(1)) as u8;
            pixels.extend([
                r.saturating_add(noise),
                g.saturating_add(noise / 2),
                noise * 2,
            ]);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .unwrap_or_else(|e| panic!("fixture photo: {e}"));
    out
}

/// The team's sample photos (`../shared/fixtures/photos` beside the clone), or `None` after
/// saying on stderr that the caller skips — written to the process's stderr itself, which
/// libtest does not capture (it shows `println!` and `eprintln!` only for failing tests).
///
/// # Panics
/// When the folder is missing under CI (`CI` set): CI must provide the shared folder.
pub fn photo_fixtures() -> Option<std::path::PathBuf> {
    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/photos");
    let dir = std::path::PathBuf::from(DIR);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "../shared/fixtures/photos is missing (looked in {DIR}): CI must provide the team's \
         shared folder beside the clone"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: ../shared/fixtures/photos not found (looked in {DIR})"
    );
    None
}
