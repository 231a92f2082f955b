//! How documents reference photos: by hash and metadata, never by bytes.
//!
//! A photo (照片证据) is an original (its SHA-256 is the evidence id) and two derivatives made on
//! the phone that holds the original: an evidence copy (long side ≤ 2048 px) and a thumbnail
//! (≤ 320 px), JPEG without EXIF. Each is its own blob on the server. A case or response
//! references its originals with their derivatives ([`EvidenceRef`](super::EvidenceRef)); a
//! notice, which the enterprise reads, references derivatives only ([`NoticePhoto`]), never an
//! officer's original with its GPS and device data.

use automerge::Automerge;
use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::ids::EvidenceId;

use super::typed::{DocError, DocKind};

/// One derivative's blob: hash, size and pixel dimensions (after orientation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct DerivativeRef {
    /// SHA-256 of the derivative's JPEG bytes.
    pub sha256: EvidenceId,
    /// Size of the JPEG, bytes.
    pub byte_len: u64,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
}

/// The two derivatives of a photo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct PhotoDerivatives {
    /// The evidence copy: long side ≤ 2048 px, oriented, sRGB JPEG without metadata.
    pub evidence_copy: DerivativeRef,
    /// The thumbnail: long side ≤ 320 px, made from the evidence copy.
    pub thumbnail: DerivativeRef,
}

/// A photo shown in a rectification notice: the derivatives of a case photo only, so the
/// enterprise never receives the officer's original (GPS, device make and model).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct NoticePhoto {
    /// SHA-256 of the evidence copy; identifies the photo in the notice's list.
    #[key]
    pub sha256: EvidenceId,
    /// Size of the evidence copy, bytes.
    pub byte_len: u64,
    /// Width of the evidence copy, pixels.
    pub width: u32,
    /// Height of the evidence copy, pixels.
    pub height: u32,
    /// The thumbnail.
    pub thumbnail: DerivativeRef,
    /// What it shows.
    pub caption: String,
}

impl NoticePhoto {
    /// The notice photo for a case photo's derivatives.
    pub fn from_derivatives(derivatives: &PhotoDerivatives, caption: &str) -> Self {
        NoticePhoto {
            sha256: derivatives.evidence_copy.sha256,
            byte_len: derivatives.evidence_copy.byte_len,
            width: derivatives.evidence_copy.width,
            height: derivatives.evidence_copy.height,
            thumbnail: derivatives.thumbnail,
            caption: caption.to_owned(),
        }
    }
}

/// The part a blob plays for a document that references it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobRole {
    /// A photo's original bytes, as taken (may carry GPS and device data).
    Original,
    /// The ≤ 2048 px evidence copy.
    EvidenceCopy,
    /// The ≤ 320 px thumbnail.
    Thumbnail,
}

impl BlobRole {
    /// `original`, `evidence_copy` or `thumbnail`.
    pub const fn as_str(self) -> &'static str {
        match self {
            BlobRole::Original => "original",
            BlobRole::EvidenceCopy => "evidence_copy",
            BlobRole::Thumbnail => "thumbnail",
        }
    }

    /// The role named by [`BlobRole::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [
            BlobRole::Original,
            BlobRole::EvidenceCopy,
            BlobRole::Thumbnail,
        ]
        .into_iter()
        .find(|role| role.as_str() == text)
    }
}

/// A blob a document references: which, in what role, and its size when the document says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobUse {
    /// The blob's SHA-256.
    pub sha256: EvidenceId,
    /// Original or derivative.
    pub role: BlobRole,
    /// Its size in bytes, when recorded (originals of schema-2 documents written before photo
    /// derivatives existed have none).
    pub byte_len: Option<u64>,
}

fn uses_of_evidence(evidence: &[super::EvidenceRef], out: &mut Vec<BlobUse>) {
    for photo in evidence {
        out.push(BlobUse {
            sha256: photo.sha256,
            role: BlobRole::Original,
            byte_len: photo.byte_len,
        });
        if let Some(derivatives) = &photo.derivatives {
            uses_of_derivatives(derivatives, out);
        }
    }
}

fn uses_of_derivatives(derivatives: &PhotoDerivatives, out: &mut Vec<BlobUse>) {
    for (role, blob) in [
        (BlobRole::EvidenceCopy, derivatives.evidence_copy),
        (BlobRole::Thumbnail, derivatives.thumbnail),
    ] {
        out.push(BlobUse {
            sha256: blob.sha256,
            role,
            byte_len: Some(blob.byte_len),
        });
    }
}

/// Every blob the body of `doc` (a document of `kind`) references, sorted, without duplicates:
/// a case's or response's photos (original and derivatives), a notice's photos (derivatives
/// only); none for other kinds. The server keeps these references so read access to a blob
/// follows read access to a document that references it; the phone compares them with what the
/// server holds to tell which photos are still missing.
///
/// # Errors
/// [`DocError::Hydrate`] when the body does not read as `kind`.
pub fn referenced_blobs(kind: DocKind, doc: &Automerge) -> Result<Vec<BlobUse>, DocError> {
    use super::{Case, Notice, Response};
    let mut out = Vec::new();
    match kind {
        DocKind::Case => {
            let case: Case = autosurgeon::hydrate_prop(doc, &automerge::ROOT, "body")?;
            uses_of_evidence(&case.evidence, &mut out);
        }
        DocKind::Response => {
            let response: Response = autosurgeon::hydrate_prop(doc, &automerge::ROOT, "body")?;
            uses_of_evidence(&response.evidence, &mut out);
        }
        DocKind::Notice => {
            let notice: Notice = autosurgeon::hydrate_prop(doc, &automerge::ROOT, "body")?;
            for photo in &notice.photos {
                out.push(BlobUse {
                    sha256: photo.sha256,
                    role: BlobRole::EvidenceCopy,
                    byte_len: Some(photo.byte_len),
                });
                out.push(BlobUse {
                    sha256: photo.thumbnail.sha256,
                    role: BlobRole::Thumbnail,
                    byte_len: Some(photo.thumbnail.byte_len),
                });
            }
        }
        DocKind::Review | DocKind::Unit | DocKind::Rules | DocKind::WatchList => {}
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Checks a list of photo references: no photo twice, derivatives distinct from their
/// original and each other, sizes non-zero.
pub(crate) fn check_evidence(evidence: &[super::EvidenceRef]) -> Result<(), DocError> {
    let mut seen = std::collections::BTreeSet::new();
    for photo in evidence {
        if !seen.insert(photo.sha256) {
            return Err(DocError::Rule(format!(
                "photo {} is referenced twice",
                photo.sha256
            )));
        }
        if photo.byte_len == Some(0) {
            return Err(DocError::Rule(format!(
                "photo {} has no bytes",
                photo.sha256
            )));
        }
        if let Some(d) = &photo.derivatives {
            check_derivatives(photo.sha256, d)?;
        }
    }
    Ok(())
}

fn check_derivatives(original: EvidenceId, d: &PhotoDerivatives) -> Result<(), DocError> {
    let blobs = [d.evidence_copy, d.thumbnail];
    if blobs.iter().any(|b| b.sha256 == original) || d.evidence_copy.sha256 == d.thumbnail.sha256 {
        return Err(DocError::Rule(format!(
            "the derivatives of photo {original} must be distinct blobs"
        )));
    }
    if blobs
        .iter()
        .any(|b| b.byte_len == 0 || b.width == 0 || b.height == 0)
    {
        return Err(DocError::Rule(format!(
            "a derivative of photo {original} has no bytes or no pixels"
        )));
    }
    Ok(())
}

/// Checks a notice's photos: each once, its thumbnail a distinct blob, sizes non-zero.
pub(crate) fn check_notice_photos(photos: &[NoticePhoto]) -> Result<(), DocError> {
    let mut seen = std::collections::BTreeSet::new();
    for photo in photos {
        if !seen.insert(photo.sha256) {
            return Err(DocError::Rule(format!(
                "photo {} is in the notice twice",
                photo.sha256
            )));
        }
        if photo.thumbnail.sha256 == photo.sha256
            || photo.byte_len == 0
            || photo.width == 0
            || photo.height == 0
            || photo.thumbnail.byte_len == 0
        {
            return Err(DocError::Rule(format!(
                "notice photo {} needs a distinct, non-empty thumbnail and evidence copy",
                photo.sha256
            )));
        }
    }
    Ok(())
}
