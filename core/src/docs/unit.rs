//! The `unit` document: a source unit's profile (货运源头单位档案), written by supervisors.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::jurisdiction::{AdminCode, AdminLevel, SourceUnitKind};
use crate::scope::Department;

use super::common::GeoPoint;
use super::typed::{DocBody, DocError, DocKind, Header, check_header_fields};

/// The body of a `unit` document. The USCC is the header's `unit`. Live equipment state comes
/// from heartbeats and stays on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct UnitProfile {
    /// Registered name.
    pub name: String,
    /// Kind of unit (decides who supervises it).
    pub kind: SourceUnitKind,
    /// Township (乡镇) the unit lies in, 9-digit code.
    pub township: AdminCode,
    /// Supervising department code (see [`Department::code`]), when a department supervises it.
    pub supervising_department: Option<String>,
    /// Address.
    pub address: String,
    /// Location of the exit weighbridge.
    pub location: Option<GeoPoint>,
    /// On the public list (公示名单).
    pub listed: bool,
}

impl DocBody for UnitProfile {
    const KIND: DocKind = DocKind::Unit;

    fn check_header(header: &Header) -> Result<(), DocError> {
        check_header_fields(header, false, true, false)
    }

    fn check(&self, _before: Option<&Self>) -> Result<(), DocError> {
        if self.name.trim().is_empty() {
            return Err(DocError::Rule("a unit needs its name".to_owned()));
        }
        if self.township.level() != AdminLevel::Township {
            return Err(DocError::Rule(format!(
                "{} is not a township code",
                self.township
            )));
        }
        if let Some(code) = &self.supervising_department
            && Department::from_code(code).is_none()
        {
            return Err(DocError::Rule(format!("unknown department {code:?}")));
        }
        Ok(())
    }
}
