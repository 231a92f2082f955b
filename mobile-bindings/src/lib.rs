//! zhichao-mobile: the uniffi facade of `zhichao-core` for the Android and iOS apps.
#![allow(unsafe_code)] // uniffi's generated scaffolding exports `extern "C"` functions.

uniffi::setup_scaffolding!();
