//! Identifiers, one concept per file: newtypes that parse, validate and display themselves, so a
//! document id, a case number or an officer's enforcement ID is a type, not a `String`.

mod case_number;
mod document_id;
mod evidence_id;
mod names;

pub use case_number::{CaseNumber, CaseNumberError, DevicePrefix};
pub use document_id::{DocumentId, DocumentIdError};
pub use evidence_id::{EvidenceId, EvidenceIdError};
pub use names::{EnforcementId, NameError, PeerId, PrincipalId, StorageId, TeamId};
