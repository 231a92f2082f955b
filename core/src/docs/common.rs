//! Value types shared by several documents, and the autosurgeon glue for the identifier types.

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler, reconcile::NoKey};
use serde::{Deserialize, Serialize};

use crate::ids::{CaseNumber, DocumentId, EnforcementId, EvidenceId, PrincipalId, TeamId};
use crate::jurisdiction::{AdminCode, SourceUnitKind};
use crate::plate::{Plate, PlateColour};
use crate::scope::Scope;
use crate::uscc::Uscc;

/// Stores a type as its canonical text (`Display`) and reads it back with `FromStr`: a stored
/// value that does not parse is a hydrate error, never a panic.
macro_rules! string_backed {
    ($($t:ty => $what:literal),* $(,)?) => {$(
        impl Reconcile for $t {
            type Key<'a> = NoKey;
            fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
                reconciler.str(self.to_string())
            }
        }

        impl Hydrate for $t {
            fn hydrate_string(s: &str) -> Result<Self, HydrateError> {
                s.parse().map_err(|e| HydrateError::unexpected($what, format!("{s:?}: {e}")))
            }
        }
    )*};
}

string_backed!(
    Plate => "a licence plate",
    PlateColour => "a plate colour",
    CaseNumber => "a case number",
    DocumentId => "a document id",
    EvidenceId => "a SHA-256 evidence id",
    PrincipalId => "a principal id",
    TeamId => "a team id",
    EnforcementId => "an enforcement id",
    Uscc => "a unified social credit code",
    AdminCode => "an administrative division code",
    Scope => "a scope",
    SourceUnitKind => "a source unit kind",
);

/// A text field edited by giving the whole new text: reconciled with automerge's
/// grapheme-aware `update_text`, so concurrent edits at different places both survive.
/// Also reads a plain string (schema version 1 stored some texts that way).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TextField(pub String);

impl TextField {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TextField {
    fn from(s: &str) -> Self {
        TextField(s.to_owned())
    }
}

impl From<String> for TextField {
    fn from(s: String) -> Self {
        TextField(s)
    }
}

impl Reconcile for TextField {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        use autosurgeon::reconcile::TextReconciler;
        let mut text = reconciler.text()?;
        text.update(&self.0)
    }
}

impl Hydrate for TextField {
    fn hydrate_text<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
    ) -> Result<Self, HydrateError> {
        Ok(TextField(doc.text(obj)?))
    }

    fn hydrate_string(s: &str) -> Result<Self, HydrateError> {
        Ok(TextField(s.to_owned()))
    }
}

/// A GPS fix in WGS-84, as integers (degrees × 10⁷) so values compare and merge exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct GeoPoint {
    /// Latitude, degrees × 10⁷ (−900 000 000 ..= 900 000 000).
    pub lat_e7: i64,
    /// Longitude, degrees × 10⁷ (−1 800 000 000 ..= 1 800 000 000).
    pub lon_e7: i64,
    /// Horizontal accuracy, metres, when the device reports it.
    pub accuracy_m: Option<u32>,
}

impl GeoPoint {
    /// True when the coordinates are in range and not the 0,0 "no fix" placeholder.
    pub fn is_valid(&self) -> bool {
        (-900_000_000..=900_000_000).contains(&self.lat_e7)
            && (-1_800_000_000..=1_800_000_000).contains(&self.lon_e7)
            && (self.lat_e7, self.lon_e7) != (0, 0)
    }
}

/// The agency an officer belongs to in a joint patrol (路警联合执法).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
pub enum Agency {
    /// 交通运输执法: transport inspectors.
    Transport,
    /// 公安交警: traffic police.
    TrafficPolice,
}

/// An enforcement officer as named on an on-site record or a notice.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Officer {
    /// Full name.
    pub name: String,
    /// Enforcement certificate number (执法证号); identifies the officer in lists, so concurrent
    /// edits of two officers never mix one's name with the other's number.
    #[key]
    pub enforcement_id: EnforcementId,
    /// Agency.
    pub agency: Agency,
}

/// Checks the rule of 交通运输行政执法程序规定 that enforcement is done by at least two
/// officers with enforcement certificates: at least two distinct enforcement IDs.
pub(crate) fn has_two_officers(officers: &[Officer]) -> bool {
    let mut ids: Vec<&EnforcementId> = officers.iter().map(|o| &o.enforcement_id).collect();
    ids.sort();
    ids.dedup();
    ids.len() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{AutoCommit, ROOT};
    use autosurgeon::{hydrate_prop, reconcile_prop};

    #[test]
    fn string_backed_types_refuse_garbage_on_hydrate() {
        let mut doc = AutoCommit::new();
        reconcile_prop(
            &mut doc,
            ROOT,
            "plate",
            "晋E12345".parse::<Plate>().unwrap(),
        )
        .unwrap();
        let plate: Plate = hydrate_prop(&doc, &ROOT, "plate").unwrap();
        assert_eq!(plate.to_string(), "晋E12345");
        reconcile_prop(&mut doc, ROOT, "plate", "not a plate").unwrap();
        let err = hydrate_prop::<_, Plate, _, _>(&doc, &ROOT, "plate").unwrap_err();
        assert!(err.to_string().contains("licence plate"), "{err}");
    }

    #[test]
    fn text_field_reads_text_and_plain_strings() {
        let mut doc = AutoCommit::new();
        reconcile_prop(&mut doc, ROOT, "t", TextField::from("晋E·12345 超限 🚛")).unwrap();
        let t: TextField = hydrate_prop(&doc, &ROOT, "t").unwrap();
        assert_eq!(t.as_str(), "晋E·12345 超限 🚛");
        reconcile_prop(&mut doc, ROOT, "s", "plain").unwrap();
        let s: TextField = hydrate_prop(&doc, &ROOT, "s").unwrap();
        assert_eq!(s.as_str(), "plain");
    }

    #[test]
    fn geo_points_reject_no_fix_and_out_of_range() {
        let p = |lat_e7, lon_e7| GeoPoint {
            lat_e7,
            lon_e7,
            accuracy_m: None,
        };
        assert!(p(354_866_000, 1_124_150_000).is_valid());
        assert!(!p(0, 0).is_valid());
        assert!(!p(900_000_001, 0).is_valid());
    }
}
