//! Enrollment and credentials: the host's secret store ([`SecretStore`], implemented in Kotlin
//! over the Android Keystore or in Swift over the Keychain) keeps the device's tokens; core's
//! [`Session`](zhichao_core::client::Session) refreshes them itself and saves every rotated
//! pair there before using it.
//!
//! The secret is an opaque string (JSON of core's `Credentials`): the host stores and returns
//! it as it is, and never needs to read it. It is never written to a plain file by this
//! library, never logged, and never part of an error message.

// uniffi hands every argument over owned; taking references would only add copies.
#![allow(clippy::needless_pass_by_value)]

use std::sync::Arc;

use zhichao_core::client::{self, CredentialStore, Credentials};
use zhichao_core::ids::{DevicePrefix, StorageId};
use zhichao_core::scope::Scope;

use crate::error::{ApiError, Result};
use crate::records::{Account, role_of};

/// Where the host keeps this device's secret (implemented by the app).
///
/// Android: encrypt with a key of the Android Keystore and keep the ciphertext in the app's
/// private storage (or use `EncryptedSharedPreferences`). iOS: a Keychain generic password
/// with `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly` (sync runs in the background).
/// Calls come from any thread, including the sync thread.
#[uniffi::export(with_foreign)]
pub trait SecretStore: Send + Sync {
    /// The stored secret, `None` before enrollment.
    ///
    /// # Errors
    /// [`ApiError::Storage`] when the store cannot be read (locked device …).
    fn load(&self) -> Result<Option<String>>;

    /// Replaces the stored secret; returns only once it is durable (a refresh token is spent
    /// as soon as the server rotated it, so losing the new one signs the device out).
    ///
    /// # Errors
    /// [`ApiError::Storage`] when it cannot be stored.
    fn save(&self, secret: String) -> Result<()>;

    /// Removes the secret (sign-out).
    ///
    /// # Errors
    /// [`ApiError::Storage`] when it cannot be removed.
    fn clear(&self) -> Result<()>;
}

/// Core's credential store over the host's [`SecretStore`], bound to one identity.
///
/// - Bound to the device and account a [`FieldStore`](crate::FieldStore) was opened with: a
///   secret store that now holds another device's or account's credentials (a phone handed to
///   another officer, a device enrolled again for someone else) reads as "not enrolled", so
///   this store's pending work is never pushed under someone else's name (the server would
///   refuse it, and a refused document is not sent again until it changes).
/// - After sign-out it neither reads nor saves: a rotated pair still held in memory, or a
///   sync that was refreshing tokens during the sign-out, cannot write the credentials back.
/// - A failure to read the secret (a locked Keystore) is kept, so that the error reported is
///   `Storage` and not "enroll again".
pub(crate) struct HostCredentials {
    host: Arc<dyn SecretStore>,
    bound: std::sync::OnceLock<(String, String)>,
    signed_out: std::sync::atomic::AtomicBool,
    load_failure: std::sync::Mutex<Option<String>>,
    /// Held while saving and while signing out, so a save under way cannot finish after the
    /// secret was cleared.
    writing: std::sync::Mutex<()>,
}

impl HostCredentials {
    /// Over `host`, not yet bound (enrollment).
    pub(crate) fn new(host: Arc<dyn SecretStore>) -> Self {
        HostCredentials {
            host,
            bound: std::sync::OnceLock::new(),
            signed_out: std::sync::atomic::AtomicBool::new(false),
            load_failure: std::sync::Mutex::new(None),
            writing: std::sync::Mutex::new(()),
        }
    }

    /// Accepts from now on only credentials of `device` for `principal`.
    pub(crate) fn bind(&self, credentials: &Credentials) {
        let _ = self.bound.set((
            credentials.device.to_string(),
            credentials.principal.id().to_string(),
        ));
    }

    /// Signs out: clears the host's secret; from now on nothing is read or saved.
    pub(crate) fn sign_out(&self) -> Result<()> {
        let _writing = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.signed_out
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.host.clear()
    }

    /// True after [`HostCredentials::sign_out`].
    pub(crate) fn is_signed_out(&self) -> bool {
        self.signed_out.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Why the secret could not be read the last time, if the last read failed.
    pub(crate) fn take_load_failure(&self) -> Option<String> {
        self.load_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_load_failure(&self, failure: Option<String>) {
        *self
            .load_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = failure;
    }

    fn matches(&self, credentials: &Credentials) -> bool {
        self.bound.get().is_none_or(|(device, principal)| {
            credentials.device.as_str() == device
                && credentials.principal.id().as_str() == principal
        })
    }
}

impl CredentialStore for HostCredentials {
    fn load(&self) -> Option<Credentials> {
        if self.is_signed_out() {
            return None;
        }
        let credentials = match self.host.load() {
            Ok(Some(secret)) => match serde_json::from_str::<Credentials>(&secret) {
                Ok(credentials) => credentials,
                Err(e) => {
                    // Never quote the secret: only where it failed.
                    tracing::error!(
                        line = e.line(),
                        column = e.column(),
                        "the stored secret does not read; enroll the device again"
                    );
                    return None;
                }
            },
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, "the secret store cannot be read");
                self.set_load_failure(Some(match e {
                    ApiError::Storage { reason } => reason,
                    other => other.to_string(),
                }));
                return None;
            }
        };
        self.set_load_failure(None);
        if !self.matches(&credentials) {
            tracing::warn!(
                "the secret store holds another device's or account's credentials; this store does not sync with them"
            );
            return None;
        }
        Some(credentials)
    }

    fn save(&self, credentials: &Credentials) -> std::result::Result<(), String> {
        let _writing = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.is_signed_out() {
            return Err("signed out".to_owned());
        }
        // Never over another device's or account's credentials (the phone changed hands
        // while this store was refreshing its tokens).
        if let Ok(Some(current)) = self.host.load()
            && let Ok(current) = serde_json::from_str::<Credentials>(&current)
            && !self.matches(&current)
        {
            return Err("the secret store now holds another account's credentials".to_owned());
        }
        let secret = serde_json::to_string(credentials).map_err(|e| e.to_string())?;
        self.host.save(secret).map_err(|e| e.to_string())
    }
}

impl std::fmt::Debug for HostCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostCredentials")
    }
}

/// The account described by stored credentials.
///
/// # Errors
/// [`ApiError::Unauthorized`] for principals that cannot use the field app.
pub(crate) fn account_of(credentials: &Credentials) -> Result<Account> {
    use zhichao_core::access::Principal;
    let role = role_of(&credentials.principal)?;
    let (team, scope, unit) = match &credentials.principal {
        Principal::Officer { team, scope, .. } => {
            (Some(team.to_string()), Some(scope.to_string()), None)
        }
        Principal::Supervisor { scope, .. } => (None, Some(scope.to_string()), None),
        Principal::Enterprise { unit, .. } => (None, None, Some(unit.to_string())),
        _ => (None, None, None),
    };
    Ok(Account {
        principal_id: credentials.principal.id().to_string(),
        role,
        team,
        scope,
        unit,
        device_id: credentials.device.to_string(),
        device_prefix: DevicePrefix::for_device(&credentials.device)
            .as_str()
            .to_owned(),
        access_expires_at_ms: credentials.access_expires_at_ms,
        refresh_expires_at_ms: credentials.refresh_expires_at_ms,
    })
}

/// A fresh storage id for this device, e.g. `zc-5f0c…` (34 characters): generate it once,
/// keep it in the app's preferences, and show it to the administrator who issues the
/// enrollment code for it (`zhichao admin enroll --device ID`).
#[uniffi::export]
pub fn new_device_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("zc-{hex}")
}

/// Enrolls this device: exchanges the one-time `code` an administrator issued for
/// `device_id` at `server_url` (`http://HOST[:PORT]`) for the device's access and refresh
/// tokens, and hands them to `secrets`. Runs on a background thread (Kotlin `suspend`, Swift
/// `async`).
///
/// # Errors
/// [`ApiError::Validation`] for a malformed URL or device id; [`ApiError::Unauthorized`] for
/// an unknown, used, expired or revoked code or one made for another device;
/// [`ApiError::Network`] when the server cannot be reached; [`ApiError::Storage`] when the
/// secret store refuses (the code is spent then: ask for a new one).
#[uniffi::export]
pub async fn enroll(
    server_url: String,
    code: String,
    device_id: String,
    secrets: Arc<dyn SecretStore>,
) -> Result<Account> {
    let device = StorageId::new(device_id.trim()).map_err(|e| ApiError::invalid(e.to_string()))?;
    let code = code.trim().to_owned();
    if code.is_empty() {
        return Err(ApiError::invalid("the enrollment code is empty"));
    }
    blocking::unblock(move || {
        let store = HostCredentials::new(secrets);
        let credentials = client::enroll(&server_url, &code, &device, &store)?;
        account_of(&credentials)
    })
    .await
}

/// The county of a scope, for the county's rules document.
pub(crate) fn county_of(scope: &Scope) -> Result<Scope> {
    Scope::county(scope.county_code()).map_err(|e| ApiError::internal(e.to_string()))
}
