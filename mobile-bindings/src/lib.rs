//! zhichao-mobile: the uniffi facade of `zhichao-core` for the Android and iOS apps.
//!
//! A thin layer (see `../shared/STYLE.md`, "The FFI crate stays thin"): strings from the host
//! are parsed into core's typed values at the boundary ([`records`]), core does the work, and
//! core's rich errors are mapped once into the small [`ApiError`] the host can act on
//! ([`error`]). What the host gets:
//!
//! - [`enroll`] a device with the server URL and a one-time code, the tokens going to the
//!   host's [`SecretStore`] (Keystore, Keychain) — never to a plain file;
//! - [`FieldStore`]: open the device's store in a directory; roadside checks, site
//!   inspections, measurements and their verdicts, photos with their upload state, queries,
//!   notices, responses and reviews;
//! - sync: [`FieldStore::sync_now`] (Kotlin `suspend`, Swift `async`), a background sync, and a
//!   [`SyncObserver`] for progress and state changes;
//! - logging: [`set_log_sink`] forwards `tracing` events to the host's log.
//!
//! Generated bindings: Kotlin package `cn.zhichao.core`, Swift module `ZhichaoCore` (see
//! `android/` and `ios/`).
#![allow(unsafe_code)] // uniffi's generated scaffolding exports `extern "C"` functions.

pub mod account;
pub mod error;
pub mod logging;
pub mod records;
pub mod store;
pub mod sync;

pub use account::{SecretStore, enroll, new_device_id};
pub use error::ApiError;
pub use logging::{LogLevel, LogRecord, LogSink, clear_log_sink, set_log_sink};
pub use records::*;
pub use store::FieldStore;
pub use sync::{SyncEvent, SyncObserver, SyncResult, SyncState};

use zhichao_core::plate::Plate;

uniffi::setup_scaffolding!();

/// A licence plate normalised per GA 36-2018.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NormalizedPlate {
    /// Canonical identifier form, e.g. `晋E12345`.
    pub plate: String,
    /// Printed form with the middle dot, e.g. `晋E·12345`.
    pub printed: String,
    /// Plate kind, e.g. `ordinary`, `trailer`.
    pub kind: String,
}

/// Normalises a plate as typed at the roadside (with or without the middle dot, spaces,
/// full-width characters, lower case).
///
/// # Errors
/// [`ApiError::Validation`] saying what is wrong ("letter I is not used on plates" …).
#[uniffi::export]
pub fn normalize_plate(text: &str) -> Result<NormalizedPlate, ApiError> {
    let plate: Plate = records::parse_plate(text)?;
    Ok(NormalizedPlate {
        plate: plate.to_string(),
        printed: format!("{plate:#}"),
        kind: plate.kind().to_string(),
    })
}

#[cfg(test)]
mod tests;
