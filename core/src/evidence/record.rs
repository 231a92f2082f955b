//! Recording a photo as evidence on the phone: the pipeline ([`process_photo`]), the blobs
//! into the [`BlobDir`] and its upload queue, and the [`EvidenceRef`] a case or response
//! lists.

use crate::docs::{
    Case, DerivativeRef, DocError, EvidenceRef, GeoPoint, PhotoDerivatives, Response,
};
use crate::field::{FieldError, FieldStore};
use crate::ids::{DocumentId, EvidenceId, PrincipalId};
use crate::store::DocStore;

use super::blobs::{BlobDir, BlobError};
use super::photo::{
    CaptureTimeSource, Derivative, EvidenceError, Photo, PhotoLimits, process_photo,
};

/// Who took a photo, when and where by the device, and what it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureContext {
    /// The officer or enterprise user taking it.
    pub taken_by: PrincipalId,
    /// The device's clock at capture, UTC milliseconds: the capture time when the photo's EXIF
    /// has none with a UTC offset.
    pub device_time_ms: i64,
    /// The device's location fix, used when the photo carries no GPS.
    pub device_gps: Option<GeoPoint>,
    /// What it shows (plate, scale display, loading slip …).
    pub caption: String,
}

/// Where a recorded capture time came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The photo's EXIF `DateTimeOriginal` or `DateTimeDigitized`, with its UTC offset.
    Exif,
    /// The device clock (the EXIF had no capture time with an offset, or only `DateTime`,
    /// the time the file was last saved).
    Device,
}

/// A photo recorded on this phone: the reference to list in the document, what the pipeline
/// found, and whether previews exist.
#[derive(Clone, Debug)]
pub struct EvidenceRecord {
    /// The reference to add to a case's or response's `evidence`.
    pub reference: EvidenceRef,
    /// What the pipeline read (metadata, sizes); the derivative bytes are in the blob store.
    pub photo: Photo,
    /// Where `reference.captured_at_ms` came from.
    pub time_source: TimeSource,
    /// Why there is no evidence copy and thumbnail (`PreviewUnavailable` for HEIC), if so.
    pub preview_error: Option<EvidenceError>,
}

/// Why a photo could not be recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The photo is refused (empty, truncated, too large, not a photo …): nothing stored.
    #[error(transparent)]
    Photo(#[from] EvidenceError),
    /// The phone could not store it.
    #[error(transparent)]
    Storage(#[from] BlobError),
}

fn derivative_ref(d: &Derivative) -> DerivativeRef {
    DerivativeRef {
        sha256: d.sha256,
        byte_len: d.jpeg.len() as u64,
        width: d.width,
        height: d.height,
    }
}

/// Runs the pipeline on `bytes`, stores the original and its derivatives in `blobs` and
/// queues them for upload, and returns the reference for the document.
///
/// A photo the pipeline refuses stores nothing. A HEIC photo is stored and hashed with its
/// EXIF read, without derivatives (`preview_error` says why). Derivatives are written before
/// the original is queued, so a crash in between leaves at most unqueued blobs, which
/// recording the same photo again queues.
///
/// # Errors
/// [`RecordError::Photo`] with the pipeline's [`EvidenceError`]; [`RecordError::Storage`].
pub fn record_photo(
    blobs: &BlobDir,
    bytes: &[u8],
    context: &CaptureContext,
    limits: &PhotoLimits,
) -> Result<EvidenceRecord, RecordError> {
    let mut photo = process_photo(bytes, limits)?;
    let (derivatives, preview_error) = match &photo.derivatives {
        Ok(d) => {
            for blob in [&d.evidence_copy, &d.thumbnail] {
                blobs.put_expecting(blob.sha256, &blob.jpeg)?;
            }
            (
                Some(PhotoDerivatives {
                    evidence_copy: derivative_ref(&d.evidence_copy),
                    thumbnail: derivative_ref(&d.thumbnail),
                }),
                None,
            )
        }
        Err(e @ EvidenceError::PreviewUnavailable { .. }) => (None, Some(e.clone())),
        Err(e) => return Err(RecordError::Photo(e.clone())),
    };
    blobs.put_expecting(photo.sha256, bytes)?;
    let mut queue: Vec<EvidenceId> = vec![photo.sha256];
    if let Some(d) = &derivatives {
        queue.extend([d.evidence_copy.sha256, d.thumbnail.sha256]);
    }
    for sha in queue {
        blobs.enqueue_upload(sha, context.device_time_ms)?;
    }
    // The derivative bytes live in the blob store now; keep the record small.
    if let Ok(d) = &mut photo.derivatives {
        d.evidence_copy.jpeg = Vec::new();
        d.thumbnail.jpeg = Vec::new();
    }
    // EXIF `DateTime` is when the file was last saved, not when the photo was taken: the
    // device clock at capture is the better witness then.
    let exif_time = photo
        .metadata
        .captured_at
        .as_ref()
        .filter(|t| t.source != CaptureTimeSource::Modified)
        .and_then(|t| t.utc_ms);
    let (captured_at_ms, time_source) = match exif_time {
        Some(ms) => (ms, TimeSource::Exif),
        None => (context.device_time_ms, TimeSource::Device),
    };
    let reference = EvidenceRef {
        sha256: photo.sha256,
        caption: context.caption.clone(),
        captured_at_ms: Some(captured_at_ms),
        gps: photo.metadata.gps.or(context.device_gps),
        taken_by: context.taken_by.clone(),
        format: Some(photo.format.as_str().to_owned()),
        byte_len: Some(photo.byte_len),
        width: photo.oriented_size.map(|(w, _)| w),
        height: photo.oriented_size.map(|(_, h)| h),
        derivatives,
    };
    Ok(EvidenceRecord {
        reference,
        photo,
        time_source,
        preview_error,
    })
}

/// A document kind that lists photo evidence: a case or a response.
pub trait WithEvidence: crate::docs::DocBody {
    /// The photo list.
    fn evidence_mut(&mut self) -> &mut Vec<EvidenceRef>;
}

impl WithEvidence for Case {
    fn evidence_mut(&mut self) -> &mut Vec<EvidenceRef> {
        &mut self.evidence
    }
}

impl WithEvidence for Response {
    fn evidence_mut(&mut self) -> &mut Vec<EvidenceRef> {
        &mut self.evidence
    }
}

/// Adds a recorded photo to a case or response (`T`: [`Case`] or [`Response`]) once — a
/// photo already listed is left as it is — and saves it. Returns false when it was listed
/// already.
///
/// # Errors
/// [`FieldError::Doc`] with [`DocError::Rule`] when the document is not on this device, or
/// with the rule the edit breaks; store errors.
pub fn attach_photo<T: WithEvidence, S: DocStore>(
    store: &FieldStore<S>,
    doc_id: &DocumentId,
    reference: &EvidenceRef,
    by: &PrincipalId,
    now_ms: i64,
) -> Result<bool, FieldError> {
    let Some(opened) = store.open::<T>(doc_id)? else {
        return Err(DocError::Rule(format!("document {doc_id} is not on this device")).into());
    };
    let mut doc = opened.doc;
    let changed = doc.update(by, now_ms, |body| {
        let evidence = body.evidence_mut();
        if !evidence.iter().any(|e| e.sha256 == reference.sha256) {
            evidence.push(reference.clone());
        }
        Ok(())
    })?;
    if changed {
        store.save(&doc)?;
    }
    Ok(changed)
}

/// Expected against received for the photos of one stored document (case, notice or
/// response): which blobs the server holds and which it does not yet. `None` when the
/// document is not on this device.
///
/// # Errors
/// Store errors; [`FieldError::Doc`] when the document does not read.
pub fn photo_progress<S: DocStore>(
    store: &FieldStore<S>,
    blobs: &BlobDir,
    doc_id: &DocumentId,
) -> Result<Option<super::blobs::PhotoProgress>, FieldError> {
    let Some(loaded) = store.store().load(doc_id)? else {
        return Ok(None);
    };
    let header = crate::docs::read_header(&loaded.doc)?;
    let expected = crate::docs::referenced_blobs(header.kind, &loaded.doc)?;
    Ok(Some(blobs.progress(expected)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FieldStore;
    use crate::fixtures;
    use crate::store::MemoryStore;

    fn context() -> CaptureContext {
        CaptureContext {
            taken_by: fixtures::pid("officer:wang"),
            device_time_ms: 1_780_000_000_000,
            device_gps: Some(GeoPoint {
                lat_e7: 354_866_000,
                lon_e7: 1_124_150_000,
                accuracy_m: Some(5),
            }),
            caption: "车牌".to_owned(),
        }
    }

    #[test]
    fn a_photo_is_stored_queued_and_referenced_with_its_derivatives() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path()).unwrap();
        let jpeg = fixtures::photo_jpeg(640, 480, 5);
        let record = record_photo(&blobs, &jpeg, &context(), &PhotoLimits::default()).unwrap();
        let r = &record.reference;
        assert_eq!(r.sha256, EvidenceId::of(&jpeg));
        assert_eq!(r.byte_len, Some(jpeg.len() as u64));
        assert_eq!((r.width, r.height), (Some(640), Some(480)));
        assert_eq!(r.format.as_deref(), Some("jpeg"));
        // No EXIF: the device's clock and fix.
        assert_eq!(record.time_source, TimeSource::Device);
        assert_eq!(r.captured_at_ms, Some(context().device_time_ms));
        assert_eq!(r.gps, context().device_gps);
        let d = r.derivatives.expect("a JPEG has previews");
        let queued: Vec<EvidenceId> = blobs.queued().unwrap().iter().map(|q| q.sha256).collect();
        for sha in [r.sha256, d.evidence_copy.sha256, d.thumbnail.sha256] {
            assert!(blobs.verify(&sha).unwrap(), "{sha} stored intact");
            assert!(queued.contains(&sha), "{sha} queued");
        }
        assert_eq!(queued.len(), 3);
        assert_eq!(
            blobs.size(&d.evidence_copy.sha256),
            Some(d.evidence_copy.byte_len)
        );
        assert!(record.preview_error.is_none());

        // Attached once to a case; a second time changes nothing.
        let store = FieldStore::new(MemoryStore::new());
        let case = fixtures::case(1, "officer:wang", "team-1");
        store.save(&case).unwrap();
        let by = fixtures::pid("officer:wang");
        assert!(attach_photo::<Case, _>(&store, &case.id(), r, &by, 1).unwrap());
        assert!(!attach_photo::<Case, _>(&store, &case.id(), r, &by, 2).unwrap());
        let progress = photo_progress(&store, &blobs, &case.id()).unwrap().unwrap();
        assert_eq!(progress.expected.len(), 3);
        assert!(!progress.is_complete());
        let missing = DocumentId::generate(&mut rand::rng());
        assert!(attach_photo::<Case, _>(&store, &missing, r, &by, 3).is_err());
    }

    #[test]
    fn a_refused_photo_stores_and_queues_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path()).unwrap();
        let jpeg = fixtures::photo_jpeg(64, 48, 6);
        let cut = &jpeg[..jpeg.len() / 2];
        let err = record_photo(&blobs, cut, &context(), &PhotoLimits::default()).unwrap_err();
        assert!(
            matches!(err, RecordError::Photo(EvidenceError::Truncated { .. })),
            "{err:?}"
        );
        assert!(blobs.queued().unwrap().is_empty());
        assert!(!blobs.contains(&EvidenceId::of(cut)));
        assert!(
            std::fs::read_dir(dir.path().join("objects"))
                .unwrap()
                .next()
                .is_none(),
            "nothing stored"
        );
    }
}
