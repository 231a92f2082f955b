//! Supervisors' console passwords (监管端登录密码): argon2id hashes in the server's token
//! database, and the lockout after repeated failures.
//!
//! - **Storage**: the tree [`TREE`] of the `auth` sled database ([`crate::auth::Auth`]), keyed
//!   by principal id; the value is a version byte and JSON: the principal
//!   ([`Principal::Supervisor`] with its scope), the PHC string of the argon2id hash (default
//!   parameters of the `argon2` crate: m = 19 MiB, t = 2, p = 1, the OWASP Password Storage
//!   Cheat Sheet's first choice), a 16-byte salt from the operating system's random source,
//!   the times of recent failures, the lock, and when the record was made and changed. The
//!   password itself is never stored or logged.
//! - **Lockout** (OWASP Authentication Cheat Sheet, "account lockout"): [`MAX_FAILURES`] wrong
//!   passwords within [`FAILURE_WINDOW`] lock the account for [`LOCKOUT`]; while locked even
//!   the right password is refused. The lock is in the record, so a restart does not lift
//!   it; an administrator lifts it by setting a new password ([`Passwords::set`]); a login
//!   that succeeds clears the failures.
//! - **No account oracle**: an unknown account is verified against a dummy hash, so it costs
//!   the time of a wrong password and gets the same answer ([`LoginOutcome::Refused`]); its
//!   failures are counted too (in memory, at most [`MAX_UNKNOWN_TRACKED`] names), so it locks
//!   after [`MAX_FAILURES`] like a real account and the lockout tells nothing either.
//! - Hashing is slow on purpose (tens of ms, 19 MiB): it runs on tokio's blocking pool, at
//!   most [`MAX_CONCURRENT_HASHES`] at a time, so a burst of logins cannot exhaust memory.

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::TryRng;
use serde::{Deserialize, Serialize};
use zhichao_core::access::Principal;
use zhichao_core::ids::PrincipalId;

use crate::clock::millis;
use crate::config::Secret;

/// Name of the sled tree holding the password records.
pub const TREE: &str = "passwords";

/// Shortest password accepted, characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Longest password accepted, characters (anything longer is refused without hashing).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Wrong passwords within [`FAILURE_WINDOW`] that lock an account.
pub const MAX_FAILURES: usize = 5;

/// The window in which [`MAX_FAILURES`] failures lock an account.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How long a locked account stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// Hashes computed at the same time, at most (each takes 19 MiB).
pub const MAX_CONCURRENT_HASHES: usize = 2;

/// Characters of generated passwords: no `0 o 1 l` to misread.
const ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";

const RECORD_VERSION: u8 = 1;

/// Why a password could not be set or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The password is shorter than [`MIN_PASSWORD_CHARS`].
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// The password is longer than [`MAX_PASSWORD_CHARS`].
    #[error("the password must have at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    /// The password holds a control character (a line break, a tab, NUL …): the login form's
    /// password field cannot hold one (browsers strip line breaks from it, and Tab moves to
    /// the next field), so the account could never log in.
    #[error("the password must not contain control characters (line breaks, tabs, NUL)")]
    ControlCharacter,
    /// The password is only spaces.
    #[error("the password must not be only spaces")]
    Blank,
    /// Only supervisors log in to the console.
    #[error("console passwords are for supervisors only")]
    NotSupervisor,
    /// The operating system's random source failed.
    #[error("no randomness: {0}")]
    Entropy(String),
    /// argon2 failed (never for our parameters; a corrupt stored hash).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task hashing the password did not finish (runtime shutting down).
    #[error("password hashing was interrupted")]
    Interrupted,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] sled::Error),
    /// A stored record cannot be read.
    #[error("corrupt password record: {0}")]
    Corrupt(String),
}

/// What a login attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The password is right: the account's principal.
    Accepted(Principal),
    /// Unknown account or wrong password (the same answer for both).
    Refused,
    /// The account is locked until `until_ms` (UTC ms), after too many failures; the password
    /// was not checked.
    Locked {
        /// When the lock ends, UTC ms.
        until_ms: u64,
    },
}

/// What is stored about an account, without its hash (for the admin and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// The supervisor.
    pub principal: Principal,
    /// Failures within the current window.
    pub failures: usize,
    /// Locked until, UTC ms (may lie in the past: the lock has ended).
    pub locked_until_ms: Option<u64>,
    /// When the account was created, UTC ms.
    pub created_ms: u64,
    /// When its password was last set, UTC ms.
    pub updated_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PasswordRecord {
    principal: Principal,
    /// PHC string of the argon2id hash.
    phc: String,
    /// Times of the failures within the window, UTC ms, oldest first.
    failures_ms: Vec<u64>,
    locked_until_ms: Option<u64>,
    created_ms: u64,
    updated_ms: u64,
}

impl PasswordRecord {
    fn encode(&self) -> Result<Vec<u8>, PasswordError> {
        let mut out = vec![RECORD_VERSION];
        serde_json::to_writer(&mut out, self).map_err(|e| PasswordError::Corrupt(e.to_string()))?;
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, PasswordError> {
        match bytes.split_first() {
            Some((&RECORD_VERSION, json)) => {
                serde_json::from_slice(json).map_err(|e| PasswordError::Corrupt(e.to_string()))
            }
            _ => Err(PasswordError::Corrupt("unknown record version".to_owned())),
        }
    }

    fn locked_at(&self, now_ms: u64) -> Option<u64> {
        self.locked_until_ms.filter(|&until| now_ms < until)
    }
}

/// The console's password accounts. One per server process, inside
/// [`crate::auth::Auth`] (`state.auth.passwords()`).
pub struct Passwords {
    db: sled::Db,
    tree: sled::Tree,
    /// Serialises read-modify-write of records (failures, lock).
    writer: Mutex<()>,
    hashing: tokio::sync::Semaphore,
    dummy: OnceLock<String>,
    /// Failures and locks of names that are no account, kept like a real account's so that
    /// the answers do not tell them apart (memory only: a restart forgets them).
    unknown: Mutex<std::collections::HashMap<String, Attempts>>,
}

/// Recent failures and the lock of a name that is no account.
#[derive(Debug, Default)]
struct Attempts {
    failures_ms: Vec<u64>,
    locked_until_ms: Option<u64>,
}

/// Most unknown names whose failures are tracked; beyond it the expired ones are dropped,
/// and if none expired all are (a flood of invented names costs at most this much memory).
pub const MAX_UNKNOWN_TRACKED: usize = 10_000;

/// Counts a failure at `now_ms` among `failures_ms` (keeping those within
/// [`FAILURE_WINDOW`]): the end of the lock when this failure reaches [`MAX_FAILURES`].
fn count_failure(failures_ms: &mut Vec<u64>, now_ms: u64) -> Option<u64> {
    let window = millis(FAILURE_WINDOW);
    failures_ms.retain(|&t| now_ms.saturating_sub(t) < window && t <= now_ms);
    failures_ms.push(now_ms);
    (failures_ms.len() >= MAX_FAILURES).then(|| {
        failures_ms.clear();
        now_ms.saturating_add(millis(LOCKOUT))
    })
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("accounts", &self.tree.len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], PasswordError> {
    let mut bytes = [0u8; N];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| PasswordError::Entropy(e.to_string()))?;
    Ok(bytes)
}

/// An argon2id PHC string of `password` with a fresh salt (blocking: tens of ms).
fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// True when `password` matches the PHC string (blocking).
fn verify_blocking(phc: &str, password: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|e| PasswordError::Hash(e.to_string()))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordError::Hash(e.to_string())),
    }
}

/// A readable random password: four groups of five characters from 32 (no `0 o 1 l`),
/// e.g. `k7mq2-x9prt-4hvzc-ab8ne` (100 bits from the operating system's random source).
///
/// # Errors
/// [`PasswordError::Entropy`] when the system has no randomness.
pub fn generate_password() -> Result<Secret, PasswordError> {
    let bytes = random_bytes::<20>()?;
    let mut out = String::with_capacity(23);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        // 32 characters: the low five bits are uniform.
        out.push(char::from(ALPHABET[usize::from(b & 31)]));
    }
    Ok(Secret::new(out))
}

/// Checks a password an administrator sets: [`MIN_PASSWORD_CHARS`] to
/// [`MAX_PASSWORD_CHARS`] characters that a supervisor can type in the login form: no control
/// characters, not only spaces.
///
/// # Errors
/// [`PasswordError::TooShort`], [`PasswordError::TooLong`],
/// [`PasswordError::ControlCharacter`], [`PasswordError::Blank`].
pub fn check_new_password(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(PasswordError::TooShort)
    } else if chars > MAX_PASSWORD_CHARS {
        Err(PasswordError::TooLong)
    } else if password.chars().any(char::is_control) {
        Err(PasswordError::ControlCharacter)
    } else if password.trim().is_empty() {
        Err(PasswordError::Blank)
    } else {
        Ok(())
    }
}

impl Passwords {
    /// The password accounts in `db` (the token database), tree [`TREE`].
    ///
    /// # Errors
    /// [`sled::Error`] when the tree cannot be opened.
    pub fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        Ok(Passwords {
            db: db.clone(),
            tree: db.open_tree(TREE)?,
            writer: Mutex::new(()),
            hashing: tokio::sync::Semaphore::new(MAX_CONCURRENT_HASHES),
            dummy: OnceLock::new(),
            unknown: Mutex::default(),
        })
    }

    fn get(&self, id: &PrincipalId) -> Result<Option<PasswordRecord>, PasswordError> {
        self.tree
            .get(id.as_str().as_bytes())?
            .map(|bytes| PasswordRecord::decode(&bytes))
            .transpose()
    }

    fn put(&self, record: &PasswordRecord) -> Result<(), PasswordError> {
        self.tree
            .insert(record.principal.id().as_str().as_bytes(), record.encode()?)?;
        Ok(())
    }

    /// Runs a hash or a verification on the blocking pool, within the concurrency bound.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| PasswordError::Interrupted)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| PasswordError::Interrupted)?
    }

    /// Sets the password of a supervisor, creating the account or replacing its password and
    /// scope; a replacement clears the failures and lifts a lock. Flushed before it returns.
    /// Returns true when the account existed. (The caller ends the account's console
    /// sessions.)
    ///
    /// # Errors
    /// [`PasswordError::NotSupervisor`], the refusals of [`check_new_password`], or a hashing
    /// or storage failure.
    pub async fn set(
        &self,
        principal: Principal,
        password: &Secret,
        now_ms: u64,
    ) -> Result<bool, PasswordError> {
        if !matches!(principal, Principal::Supervisor { .. }) {
            return Err(PasswordError::NotSupervisor);
        }
        check_new_password(password.expose())?;
        let text = password.expose().to_owned();
        let phc = self.blocking(move || hash_blocking(&text)).await?;
        let existed = {
            let _w = lock(&self.writer);
            let previous = self.get(principal.id())?;
            let record = PasswordRecord {
                created_ms: previous.as_ref().map_or(now_ms, |p| p.created_ms),
                principal,
                phc,
                failures_ms: Vec::new(),
                locked_until_ms: None,
                updated_ms: now_ms,
            };
            self.put(&record)?;
            previous.is_some()
        };
        self.db.flush_async().await?;
        Ok(existed)
    }

    /// A login with a name that is no account: locked like an account after
    /// [`MAX_FAILURES`] failures (without hashing, as for a locked account), else the dummy
    /// hash's work and [`LoginOutcome::Refused`].
    async fn refuse_unknown(
        &self,
        account: &str,
        password: &str,
        now_ms: u64,
    ) -> Result<LoginOutcome, PasswordError> {
        // Names are tracked as typed, bounded (a login form's field, not an id).
        let name: String = account.chars().take(MAX_PASSWORD_CHARS).collect();
        let locked = lock(&self.unknown)
            .get(&name)
            .and_then(|a| a.locked_until_ms.filter(|&until| now_ms < until));
        if let Some(until_ms) = locked {
            tracing::warn!(
                account,
                until_ms,
                "console login refused: locked (unknown account)"
            );
            return Ok(LoginOutcome::Locked { until_ms });
        }
        let dummy = self.dummy_hash().await?;
        let text = password.to_owned();
        self.blocking(move || verify_blocking(&dummy, &text))
            .await?;
        let mut unknown = lock(&self.unknown);
        if unknown.len() >= MAX_UNKNOWN_TRACKED && !unknown.contains_key(&name) {
            let window = millis(FAILURE_WINDOW);
            unknown.retain(|_, a| {
                a.locked_until_ms.is_some_and(|until| now_ms < until)
                    || a.failures_ms
                        .iter()
                        .any(|&t| now_ms.saturating_sub(t) < window)
            });
            if unknown.len() >= MAX_UNKNOWN_TRACKED {
                unknown.clear();
            }
        }
        let attempts = unknown.entry(name).or_default();
        if let Some(until_ms) = count_failure(&mut attempts.failures_ms, now_ms) {
            attempts.locked_until_ms = Some(until_ms);
            tracing::warn!(
                account,
                until_ms,
                "console login refused: unknown account; locked"
            );
            return Ok(LoginOutcome::Locked { until_ms });
        }
        tracing::warn!(account, "console login refused: unknown account");
        Ok(LoginOutcome::Refused)
    }

    /// Checks a login: `account` (a principal id as typed) and `password` at `now_ms`.
    /// A wrong password is counted (and may lock the account: the answer is then
    /// [`LoginOutcome::Locked`]); a right one clears the count. Failures are logged with the
    /// account, never the password.
    ///
    /// # Errors
    /// Storage or hashing failures only; every refusal is an [`LoginOutcome`].
    pub async fn verify(
        &self,
        account: &str,
        password: &str,
        now_ms: u64,
    ) -> Result<LoginOutcome, PasswordError> {
        let account = account.trim();
        let id = PrincipalId::new(account).ok();
        let record = match &id {
            Some(id) => self.get(id)?,
            None => None,
        };
        if password.chars().count() > MAX_PASSWORD_CHARS {
            tracing::warn!(account, "console login refused: password too long");
            return Ok(LoginOutcome::Refused);
        }
        let (Some(id), Some(record)) = (id, record) else {
            return self.refuse_unknown(account, password, now_ms).await;
        };
        if let Some(until_ms) = record.locked_at(now_ms) {
            tracing::warn!(account, until_ms, "console login refused: account locked");
            return Ok(LoginOutcome::Locked { until_ms });
        }
        let phc = record.phc.clone();
        let text = password.to_owned();
        let right = self.blocking(move || verify_blocking(&phc, &text)).await?;

        // Record the outcome on the record as it is now (another login may have counted a
        // failure, or an administrator replaced the password, while we hashed).
        let outcome = {
            let _w = lock(&self.writer);
            let Some(mut current) = self.get(&id)? else {
                return Ok(LoginOutcome::Refused);
            };
            if let Some(until_ms) = current.locked_at(now_ms) {
                tracing::warn!(account, until_ms, "console login refused: account locked");
                return Ok(LoginOutcome::Locked { until_ms });
            }
            if right && current.phc == record.phc {
                if !current.failures_ms.is_empty() || current.locked_until_ms.is_some() {
                    current.failures_ms.clear();
                    current.locked_until_ms = None;
                    self.put(&current)?;
                }
                tracing::info!(account, "console login");
                return Ok(LoginOutcome::Accepted(current.principal));
            }
            let outcome = if let Some(until_ms) = count_failure(&mut current.failures_ms, now_ms) {
                current.locked_until_ms = Some(until_ms);
                tracing::warn!(
                    account,
                    until_ms,
                    "console login refused: wrong password; account locked"
                );
                LoginOutcome::Locked { until_ms }
            } else {
                let failures = current.failures_ms.len();
                tracing::warn!(account, failures, "console login refused: wrong password");
                LoginOutcome::Refused
            };
            self.put(&current)?;
            outcome
        };
        self.db.flush_async().await?;
        Ok(outcome)
    }

    /// What is stored about an account (no hash); `None` when it has no password.
    ///
    /// # Errors
    /// Storage failures, a corrupt record.
    pub fn account(&self, id: &PrincipalId) -> Result<Option<AccountState>, PasswordError> {
        Ok(self.get(id)?.map(|r| AccountState {
            principal: r.principal,
            failures: r.failures_ms.len(),
            locked_until_ms: r.locked_until_ms,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        }))
    }

    /// The hash unknown accounts are checked against (made once, of a random password).
    async fn dummy_hash(&self) -> Result<String, PasswordError> {
        if let Some(h) = self.dummy.get() {
            return Ok(h.clone());
        }
        let random = random_bytes::<16>()?;
        let text: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let phc = self.blocking(move || hash_blocking(&text)).await?;
        Ok(self.dummy.get_or_init(|| phc).clone())
    }

    #[cfg(test)]
    fn stored_phc(&self, id: &PrincipalId) -> Option<String> {
        self.get(id).ok().flatten().map(|r| r.phc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhichao_core::scope::Scope;

    const MIN: u64 = 60_000;

    fn supervisor(name: &str) -> Principal {
        Principal::Supervisor {
            id: PrincipalId::new(name).unwrap(),
            scope: Scope::parse("140522/township/140522100").unwrap(),
        }
    }

    fn store() -> Passwords {
        Passwords::open(&sled::Config::new().temporary(true).open().unwrap()).unwrap()
    }

    fn id(name: &str) -> PrincipalId {
        PrincipalId::new(name).unwrap()
    }

    #[tokio::test]
    async fn hashes_are_salted_argon2id_and_verify() {
        let p = store();
        let pw = Secret::new("correct horse battery");
        assert!(!p.set(supervisor("supervisor:a"), &pw, 1).await.unwrap());
        p.set(supervisor("supervisor:b"), &pw, 1).await.unwrap();
        let a = p.stored_phc(&id("supervisor:a")).unwrap();
        let b = p.stored_phc(&id("supervisor:b")).unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert!(!a.contains(pw.expose()));
        assert_ne!(a, b, "each hash has its own salt");
        assert_eq!(
            p.verify("supervisor:a", pw.expose(), 2).await.unwrap(),
            LoginOutcome::Accepted(supervisor("supervisor:a"))
        );
        assert_eq!(
            p.verify("supervisor:a", "correct horse battery!", 3)
                .await
                .unwrap(),
            LoginOutcome::Refused
        );
        assert_eq!(
            p.verify("supervisor:nobody", pw.expose(), 3).await.unwrap(),
            LoginOutcome::Refused,
            "unknown accounts get the wrong-password answer"
        );
        assert_eq!(
            p.verify("not an id!", pw.expose(), 3).await.unwrap(),
            LoginOutcome::Refused
        );
    }

    #[tokio::test]
    async fn only_supervisors_with_long_enough_passwords() {
        let p = store();
        let officer = Principal::Admin { id: id("admin:x") };
        assert!(matches!(
            p.set(officer, &Secret::new("long enough password"), 0)
                .await,
            Err(PasswordError::NotSupervisor)
        ));
        assert!(matches!(
            p.set(supervisor("supervisor:a"), &Secret::new("123456789"), 0)
                .await,
            Err(PasswordError::TooShort)
        ));
        // Ten characters, counted as characters (not bytes).
        p.set(
            supervisor("supervisor:a"),
            &Secret::new("治超治超治超治超治超"),
            0,
        )
        .await
        .unwrap();
        assert!(matches!(
            p.set(supervisor("supervisor:a"), &Secret::new("x".repeat(257)), 0)
                .await,
            Err(PasswordError::TooLong)
        ));
    }

    #[tokio::test]
    async fn passwords_a_browser_cannot_type_are_refused() {
        // The login form's password field drops line breaks and cannot hold NUL or a tab: an
        // account set with one could never log in (and would lock itself after five tries).
        let p = store();
        for bad in [
            "first line\nsecond",
            "with\0nul inside",
            "tab\tseparated",
            "\u{7f}delete key",
        ] {
            assert!(
                matches!(
                    p.set(supervisor("supervisor:a"), &Secret::new(bad), 0)
                        .await,
                    Err(PasswordError::ControlCharacter)
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check_new_password(&" ".repeat(12)),
            Err(PasswordError::Blank)
        ));
        assert!(p.account(&id("supervisor:a")).unwrap().is_none());
        // Spaces inside and around are typed like any other character.
        let spaced = "  治超 password  ";
        p.set(supervisor("supervisor:a"), &Secret::new(spaced), 0)
            .await
            .unwrap();
        assert_eq!(
            p.verify("supervisor:a", spaced, 1).await.unwrap(),
            LoginOutcome::Accepted(supervisor("supervisor:a"))
        );
    }

    #[tokio::test]
    async fn concurrent_wrong_passwords_lock_after_five_and_let_no_more_through() {
        let p = std::sync::Arc::new(store());
        let pw = Secret::new("the right password");
        p.set(supervisor("supervisor:a"), &pw, 0).await.unwrap();
        let attempts: Vec<_> = (0..12)
            .map(|_| {
                let p = std::sync::Arc::clone(&p);
                tokio::spawn(async move {
                    p.verify("supervisor:a", "wrong password", MIN)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut refused = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                LoginOutcome::Refused => refused += 1,
                LoginOutcome::Locked { .. } => {}
                LoginOutcome::Accepted(_) => panic!("a wrong password was accepted"),
            }
        }
        assert_eq!(refused, MAX_FAILURES - 1, "the fifth failure locks");
        assert!(matches!(
            p.verify("supervisor:a", pw.expose(), 2 * MIN)
                .await
                .unwrap(),
            LoginOutcome::Locked { .. }
        ));
    }

    #[tokio::test]
    async fn five_failures_within_the_window_lock_the_account() {
        let p = store();
        let pw = Secret::new("the right password");
        p.set(supervisor("supervisor:a"), &pw, 0).await.unwrap();
        for i in 0..4 {
            assert_eq!(
                p.verify("supervisor:a", "wrong password", i * MIN)
                    .await
                    .unwrap(),
                LoginOutcome::Refused
            );
        }
        let until = 4 * MIN + millis(LOCKOUT);
        assert_eq!(
            p.verify("supervisor:a", "wrong password", 4 * MIN)
                .await
                .unwrap(),
            LoginOutcome::Locked { until_ms: until }
        );
        // Locked: even the right password is refused, until the lock ends.
        assert_eq!(
            p.verify("supervisor:a", pw.expose(), 5 * MIN)
                .await
                .unwrap(),
            LoginOutcome::Locked { until_ms: until }
        );
        assert_eq!(
            p.verify("supervisor:a", pw.expose(), until - 1)
                .await
                .unwrap(),
            LoginOutcome::Locked { until_ms: until }
        );
        assert_eq!(
            p.verify("supervisor:a", pw.expose(), until).await.unwrap(),
            LoginOutcome::Accepted(supervisor("supervisor:a"))
        );
        let state = p.account(&id("supervisor:a")).unwrap().unwrap();
        assert_eq!((state.failures, state.locked_until_ms), (0, None));
    }

    #[tokio::test]
    async fn failures_outside_the_window_and_before_a_success_do_not_count() {
        let p = store();
        let pw = Secret::new("the right password");
        p.set(supervisor("supervisor:a"), &pw, 0).await.unwrap();
        // Four failures, then the fifth after the first has left the window.
        for t in [0, MIN, 2 * MIN, 3 * MIN] {
            p.verify("supervisor:a", "wrong", t).await.unwrap();
        }
        let late = millis(FAILURE_WINDOW);
        assert_eq!(
            p.verify("supervisor:a", "wrong", late).await.unwrap(),
            LoginOutcome::Refused
        );
        assert_eq!(p.account(&id("supervisor:a")).unwrap().unwrap().failures, 4);
        // A success clears the count: four more failures do not lock.
        assert!(matches!(
            p.verify("supervisor:a", pw.expose(), late + 1)
                .await
                .unwrap(),
            LoginOutcome::Accepted(_)
        ));
        for i in 0..4 {
            assert_eq!(
                p.verify("supervisor:a", "wrong", late + 2 + i)
                    .await
                    .unwrap(),
                LoginOutcome::Refused
            );
        }
        // The fifth does.
        assert!(matches!(
            p.verify("supervisor:a", "wrong", late + 10).await.unwrap(),
            LoginOutcome::Locked { .. }
        ));
        // An administrator setting a new password lifts the lock.
        let new = Secret::new("a brand new password");
        assert!(
            p.set(supervisor("supervisor:a"), &new, late + 11)
                .await
                .unwrap()
        );
        assert!(matches!(
            p.verify("supervisor:a", new.expose(), late + 12)
                .await
                .unwrap(),
            LoginOutcome::Accepted(_)
        ));
        assert_eq!(
            p.verify("supervisor:a", pw.expose(), late + 13)
                .await
                .unwrap(),
            LoginOutcome::Refused,
            "the old password no longer works"
        );
    }

    #[tokio::test]
    async fn an_unknown_account_locks_like_a_real_one() {
        let p = store();
        p.set(
            supervisor("supervisor:a"),
            &Secret::new("the right password"),
            0,
        )
        .await
        .unwrap();
        // The same five wrong tries give the same answers for a real and an invented name.
        for name in ["supervisor:a", "supervisor:nobody"] {
            let answers: Vec<LoginOutcome> = {
                let mut out = Vec::new();
                for i in 0..6 {
                    out.push(p.verify(name, "wrong password", i * MIN).await.unwrap());
                }
                out
            };
            let until = 4 * MIN + millis(LOCKOUT);
            assert_eq!(answers[..4], [const { LoginOutcome::Refused }; 4], "{name}");
            assert_eq!(
                answers[4..],
                [
                    LoginOutcome::Locked { until_ms: until },
                    LoginOutcome::Locked { until_ms: until }
                ],
                "{name}"
            );
        }
        // An unknown name's lock ends like an account's, and then it is refused again.
        assert_eq!(
            p.verify("supervisor:nobody", "x", 4 * MIN + millis(LOCKOUT))
                .await
                .unwrap(),
            LoginOutcome::Refused
        );
    }

    #[tokio::test]
    async fn records_and_locks_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let pw = Secret::new("the right password");
        {
            let db = sled::open(dir.path()).unwrap();
            let p = Passwords::open(&db).unwrap();
            p.set(supervisor("supervisor:a"), &pw, 100).await.unwrap();
            for i in 0..5 {
                p.verify("supervisor:a", "wrong", 200 + i).await.unwrap();
            }
        }
        let db = zhichao_core::store::open_sled(&sled::Config::new().path(dir.path())).unwrap();
        let p = Passwords::open(&db).unwrap();
        let state = p.account(&id("supervisor:a")).unwrap().unwrap();
        assert_eq!(state.principal, supervisor("supervisor:a"));
        assert_eq!(state.created_ms, 100);
        assert_eq!(state.locked_until_ms, Some(204 + millis(LOCKOUT)));
        assert!(matches!(
            p.verify("supervisor:a", pw.expose(), 300).await.unwrap(),
            LoginOutcome::Locked { .. }
        ));
        assert!(matches!(
            p.verify("supervisor:a", pw.expose(), 204 + millis(LOCKOUT))
                .await
                .unwrap(),
            LoginOutcome::Accepted(_)
        ));
    }

    #[test]
    fn generated_passwords_are_long_readable_and_differ() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_ne!(a, b);
        let text = a.expose();
        assert_eq!(text.chars().count(), 23);
        assert!(check_new_password(text).is_ok());
        assert!(text.split('-').all(|g| g.len() == 5));
        assert!(
            text.chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8))),
            "{text}"
        );
    }
}
