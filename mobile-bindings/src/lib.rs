//! zhichao-mobile: the uniffi facade of `zhichao-core` for the Android and iOS apps.
//!
//! A thin layer: strings from the host are parsed into core's typed values, core does the work,
//! and core's rich errors are mapped once into the small [`ApiError`] the host can act on. The
//! full phone API (field store, cases, evidence, sync) arrives with the mobile-bindings issue.
#![allow(unsafe_code)] // uniffi's generated scaffolding exports `extern "C"` functions.

use zhichao_core::plate::Plate;

uniffi::setup_scaffolding!();

/// The errors the host sees: few, actionable, without personal data.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The input was understood but is invalid; `reason` says what to correct.
    #[error("invalid input: {reason}")]
    Validation {
        /// What is wrong, for display to the officer.
        reason: String,
    },
}

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
    let plate: Plate =
        text.parse()
            .map_err(|e: zhichao_core::plate::PlateError| ApiError::Validation {
                reason: e.to_string(),
            })?;
    Ok(NormalizedPlate {
        plate: plate.to_string(),
        printed: format!("{plate:#}"),
        kind: plate.kind().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_maps_errors() {
        let p = normalize_plate("晋e·１２３４５").unwrap();
        assert_eq!(p.plate, "晋E12345");
        assert_eq!(p.printed, "晋E·12345");
        let err = normalize_plate("晋EI2345").unwrap_err();
        assert!(err.to_string().contains("letter I"), "{err}");
    }
}
