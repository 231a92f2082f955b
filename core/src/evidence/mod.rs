//! Photo evidence (照片证据): the pipeline that turns a phone photo into an evidence record
//! ([`photo`]), and the content-addressed blob store that keeps originals and derivatives on the
//! phone until the server holds them ([`blobs`]).
//!
//! An original is identified by the SHA-256 of its exact bytes ([`EvidenceId`]) and never
//! modified; documents reference photos by hash and metadata only.
//!
//! [`EvidenceId`]: crate::ids::EvidenceId

pub mod blobs;
pub mod photo;
pub mod record;
