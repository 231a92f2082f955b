//! A phone of the demo: the mobile facade (`zhichao-mobile`, what the Android and iOS apps
//! run) over its own directory, enrolled through the admin API like a real device.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use futures_lite::future::block_on;
use zhichao_core::client::Credentials;
use zhichao_mobile::{ApiError, FieldStore, SecretStore, SyncResult};

use super::DemoError;
use crate::api::{CreateEnrollmentRequest, PrincipalSpec};
use crate::client::AdminClient;

/// The host's secret store, in memory (the apps keep it in the Keystore or Keychain).
#[derive(Debug, Default)]
pub(crate) struct MemorySecrets(Mutex<Option<String>>);

impl SecretStore for MemorySecrets {
    fn load(&self) -> Result<Option<String>, ApiError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }
    fn save(&self, secret: String) -> Result<(), ApiError> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(secret);
        Ok(())
    }
    fn clear(&self) -> Result<(), ApiError> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }
}

/// One phone: a person's name for the narration, its field store and its secrets.
pub(crate) struct Phone {
    pub(crate) who: String,
    pub(crate) store: Arc<FieldStore>,
    secrets: Arc<MemorySecrets>,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phone")
            .field("who", &self.who)
            .finish_non_exhaustive()
    }
}

impl Phone {
    /// Enrolls `principal` on a new device `device` (the administrator issues a one-time code
    /// through the admin API; the phone exchanges it) and opens its store under `dir`.
    pub(crate) fn enroll(
        admin: &AdminClient,
        server: &str,
        who: &str,
        principal: PrincipalSpec,
        device: &str,
        dir: &Path,
    ) -> Result<Phone, DemoError> {
        let code = admin
            .create_enrollment(&CreateEnrollmentRequest {
                principal,
                device: device.to_owned(),
                ttl: None,
            })
            .map_err(|e| DemoError::step(format!("enrollment code for {who}"), e))?
            .code;
        let secrets = Arc::new(MemorySecrets::default());
        block_on(zhichao_mobile::enroll(
            server.to_owned(),
            code,
            device.to_owned(),
            Arc::clone(&secrets) as Arc<dyn SecretStore>,
        ))
        .map_err(|e| DemoError::step(format!("enrolling {who}'s phone"), e))?;
        let store = FieldStore::open(
            dir.display().to_string(),
            server.to_owned(),
            Arc::clone(&secrets) as Arc<dyn SecretStore>,
        )
        .map_err(|e| DemoError::step(format!("opening {who}'s phone"), e))?;
        Ok(Phone {
            who: who.to_owned(),
            store,
            secrets,
        })
    }

    /// One "sync now", as the app's button does.
    pub(crate) fn sync(&self) -> Result<SyncResult, DemoError> {
        block_on(self.store.sync_now())
            .map_err(|e| DemoError::step(format!("{}'s sync", self.who), e))
    }

    /// The phone's current access token (for the HTTP calls a real app makes beside sync, such
    /// as the alert list).
    pub(crate) fn access_token(&self) -> Result<String, DemoError> {
        let text = self
            .secrets
            .load()
            .ok()
            .flatten()
            .ok_or_else(|| DemoError::Step {
                step: format!("{}'s credentials", self.who),
                reason: "the phone holds none".to_owned(),
            })?;
        let credentials: Credentials = serde_json::from_str(&text)
            .map_err(|e| DemoError::step(format!("{}'s credentials", self.who), e))?;
        Ok(credentials.access_token)
    }
}
