//! Authentication: tokens, enrollment, refresh rotation, WebSocket tickets, and the axum
//! extractors that make a handler's signature say who may call it.
//!
//! Every credential is 32 random bytes from the operating system, written as a kind prefix
//! and 64 hex digits (`zat_…` access, `zrt_…` refresh, `zec_…` enrollment code, `ztk_…`
//! ticket), and stored **only** as its SHA-256 hash: a copy of the data directory opens no
//! account. A token's id (for listing and revoking) is the first 12 bytes of that hash in hex.
//!
//! - **Access tokens** (`Authorization: Bearer`) expire after `tokens.access_ttl`.
//! - **Enrollment codes**: an admin creates one for a principal and a device (its storage
//!   id); the device exchanges it once ([`Auth::enroll`]) for an access and a refresh token
//!   bound to that device. Enrolling a device again revokes its earlier tokens.
//! - **Refresh tokens** are bound to the device and rotated on each use
//!   ([`Auth::refresh`]): the answer is a new pair and the old refresh token is spent.
//!   Presenting a spent refresh token again means it was copied: every token of the device is
//!   revoked and the device must enroll again (refresh-token reuse detection, as in OAuth 2.0
//!   Security BCP §4.14).
//! - **Tickets**: `POST /v1/sync/ticket` gives an authenticated client a one-time ticket valid
//!   for `tokens.ticket_ttl` (30 s) for `GET /v1/sync?ticket=…`, because browsers and the stock
//!   automerge-repo WebSocket adapter cannot set headers. Tickets live in memory only: they
//!   are short, single-use, and a restart should void them. Redeeming one re-checks the token
//!   it was issued for, so revoking that token also voids its tickets.
//! - The **bootstrap admin token** comes from `ZHICHAO_ADMIN_TOKEN` at start
//!   ([`Auth::bootstrap_admin`]); a previous bootstrap token no longer set is removed.
//!
//! Tokens live in a sled database of their own (`<data_dir>/auth`), separate from the document
//! store: one tree, keys `t` + hash → record (version byte, JSON) and `d` + device + `0` +
//! hash → nothing (the tokens of a device); the supervisors' console passwords are in the tree
//! `passwords` ([`crate::console::passwords`]). Writes that issue or spend a credential are
//! flushed before the answer leaves, so a token a client holds survives a crash.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use rand::TryRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zhichao_core::access::Principal;
use zhichao_core::ids::{PrincipalId, StorageId};
use zhichao_core::uscc::Uscc;

use crate::AppState;
use crate::api::{TokenInfo, TokenKind};
use crate::clock::millis;
use crate::config::{Secret, ServerConfig, TokenConfig};
use crate::console::passwords::Passwords;
use crate::error::ApiError;

/// Prefix of access tokens.
pub const ACCESS_PREFIX: &str = "zat_";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "zrt_";
/// Prefix of enrollment codes.
pub const ENROLLMENT_PREFIX: &str = "zec_";
/// Prefix of WebSocket tickets.
pub const TICKET_PREFIX: &str = "ztk_";

/// Longest credential accepted, characters: anything longer is not ours (and is not hashed).
pub const MAX_TOKEN_CHARS: usize = 512;

/// The principal id of the bootstrap admin token.
pub const BOOTSTRAP_ADMIN_ID: &str = "admin";

/// How long expired records are kept (for listing and audit) before [`Auth::purge_expired`]
/// removes them.
pub const EXPIRED_RETENTION: Duration = Duration::from_secs(7 * 86_400);

const RECORD_VERSION: u8 = 1;
const TOKEN_KEY: u8 = b't';
const DEVICE_KEY: u8 = b'd';
const ID_BYTES: usize = 12;

/// Why a credential or a request for one was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials were sent.
    #[error("no credentials")]
    Missing,
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("malformed Authorization header")]
    Malformed,
    /// Unknown token, or a token of another kind.
    #[error("unknown or invalid token")]
    Invalid,
    /// The token has expired.
    #[error("token expired")]
    Expired,
    /// The token was revoked.
    #[error("token revoked")]
    Revoked,
    /// The one-time code or ticket was already used.
    #[error("already used")]
    AlreadyUsed,
    /// A spent refresh token was presented again: the device's tokens are now revoked.
    #[error("refresh token reused; the device's tokens are revoked")]
    RefreshReused,
    /// The enrollment code was made for another device.
    #[error("the code was issued for another device")]
    DeviceMismatch,
    /// Authenticated, but the principal's role may not do this.
    #[error("requires the {needed} role")]
    Forbidden {
        /// The role needed.
        needed: &'static str,
    },
    /// A browser page from an origin that is not allowed opened a sync connection.
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// Too many tickets outstanding.
    #[error("too many tickets outstanding")]
    TooManyTickets,
    /// The operating system's random source failed.
    #[error("no randomness: {0}")]
    Entropy(String),
    /// The token database failed.
    #[error(transparent)]
    Storage(#[from] sled::Error),
    /// A stored record cannot be read.
    #[error("corrupt token record: {0}")]
    Corrupt(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let unauthorized = |code, message| ApiError::Unauthorized { code, message };
        match e {
            AuthError::Missing => unauthorized(
                "unauthenticated",
                "no credentials; send Authorization: Bearer <token>",
            ),
            AuthError::Malformed => unauthorized(
                "invalid_token",
                "the Authorization header is not Bearer <token>",
            ),
            AuthError::Invalid => unauthorized("invalid_token", "unknown or invalid token"),
            AuthError::Expired => unauthorized("token_expired", "the token has expired"),
            AuthError::Revoked => unauthorized("token_revoked", "the token was revoked"),
            AuthError::AlreadyUsed => {
                unauthorized("already_used", "this one-time credential was already used")
            }
            AuthError::RefreshReused => unauthorized(
                "refresh_reused",
                "this refresh token was already used; the device's tokens are revoked, enroll it again",
            ),
            AuthError::DeviceMismatch => unauthorized(
                "device_mismatch",
                "the enrollment code was issued for another device",
            ),
            AuthError::Forbidden { needed } => ApiError::Forbidden {
                code: "forbidden",
                message: format!("requires the {needed} role").into(),
            },
            AuthError::OriginNotAllowed => ApiError::Forbidden {
                code: "origin_not_allowed",
                message: "this origin may not open a sync connection".into(),
            },
            AuthError::TooManyTickets => ApiError::Unavailable {
                code: "too_many_tickets",
                message: "too many tickets outstanding; retry shortly",
            },
            e @ (AuthError::Entropy(_) | AuthError::Storage(_) | AuthError::Corrupt(_)) => {
                ApiError::internal(e)
            }
        }
    }
}

/// Result of token operations.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// The id of a stored token: the first 12 bytes of its SHA-256 hash, 24 lowercase hex digits.
/// Safe to show and log.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenId(String);

/// Why a text is not a [`TokenId`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a token id is 24 hex digits")]
pub struct TokenIdError;

impl TokenId {
    fn of(hash: &Hash) -> Self {
        TokenId(hex(&hash[..ID_BYTES]))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn prefix_bytes(&self) -> Vec<u8> {
        unhex(&self.0).unwrap_or_default()
    }
}

impl FromStr for TokenId {
    type Err = TokenIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match unhex(&s) {
            Some(bytes) if bytes.len() == ID_BYTES => Ok(TokenId(s)),
            _ => Err(TokenIdError),
        }
    }
}

impl TryFrom<String> for TokenId {
    type Error = TokenIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TokenId> for String {
    fn from(id: TokenId) -> Self {
        id.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({})", self.0)
    }
}

type Hash = [u8; 32];

fn hash_token(token: &str) -> Hash {
    Sha256::digest(token.as_bytes()).into()
}

/// Proof that a request was authenticated: who, on which device, with which token. Only
/// [`Auth`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Who.
    pub principal: Principal,
    /// The device the token is bound to (its sync storage id); `None` for tokens an admin
    /// issued without one.
    pub device: Option<StorageId>,
    /// The token presented (for a ticket: the token the ticket was issued for).
    pub token_id: TokenId,
    /// When that token expires, UTC ms.
    pub expires_at_ms: Option<u64>,
    hash: Hash,
}

/// A credential just created: the secret (shown once) and what is stored about it.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The secret text; only its hash is kept.
    pub token: String,
    /// Its id.
    pub id: TokenId,
    /// Expiry, UTC ms (`None`: never).
    pub expires_at_ms: Option<u64>,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("token", &"***")
            .field("id", &self.id)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// An access token and a refresh token for one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token.
    pub access: Issued,
    /// The refresh token.
    pub refresh: Issued,
    /// Who they speak for.
    pub principal: Principal,
    /// The device.
    pub device: StorageId,
}

/// Which tokens [`Auth::revoke`] revokes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeTarget {
    /// The token with this id.
    Id(TokenId),
    /// This token.
    Token(String),
    /// Every token bound to this device.
    Device(StorageId),
    /// Every token of this principal.
    Principal(PrincipalId),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    kind: TokenKind,
    principal: Principal,
    device: Option<StorageId>,
    issued_at_ms: u64,
    expires_at_ms: Option<u64>,
    revoked: bool,
    used_at_ms: Option<u64>,
    #[serde(default)]
    bootstrap: bool,
}

impl Record {
    fn expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|t| now_ms >= t)
    }

    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = vec![RECORD_VERSION];
        serde_json::to_writer(&mut out, self).map_err(|e| AuthError::Corrupt(e.to_string()))?;
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        match bytes.split_first() {
            Some((&RECORD_VERSION, json)) => {
                serde_json::from_slice(json).map_err(|e| AuthError::Corrupt(e.to_string()))
            }
            _ => Err(AuthError::Corrupt("unknown record version".to_owned())),
        }
    }

    fn info(&self, hash: &Hash) -> TokenInfo {
        TokenInfo {
            id: TokenId::of(hash).0,
            kind: self.kind,
            principal: self.principal.clone(),
            device: self.device.clone(),
            issued_at_ms: self.issued_at_ms,
            expires_at_ms: self.expires_at_ms,
            revoked: self.revoked,
            used_at_ms: self.used_at_ms,
        }
    }
}

#[derive(Debug)]
struct TicketEntry {
    grant: Grant,
    expires_at_ms: u64,
}

/// The token store. One per server process (sled locks its directory).
#[derive(Debug)]
pub struct Auth {
    db: sled::Db,
    tree: sled::Tree,
    ttl: TokenConfig,
    max_tickets: usize,
    tickets: Mutex<HashMap<Hash, TicketEntry>>,
    /// Serialises read-modify-write sequences (rotation, one-time use).
    writer: Mutex<()>,
    passwords: Passwords,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Auth {
    /// Opens (or creates) the token database in the directory `dir`.
    ///
    /// # Errors
    /// [`AuthError::Storage`] when it cannot be opened (e.g. another process holds it).
    pub fn open(dir: &Path, ttl: TokenConfig, max_tickets: usize) -> Result<Self> {
        let db = zhichao_core::store::open_sled(
            &sled::Config::new()
                .path(dir)
                .cache_capacity(8 * 1024 * 1024),
        )?;
        Self::with_db(db, ttl, max_tickets)
    }

    /// A token database that lives only as long as this value (tests, simulations).
    ///
    /// # Errors
    /// [`AuthError::Storage`].
    pub fn temporary(ttl: TokenConfig, max_tickets: usize) -> Result<Self> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::with_db(db, ttl, max_tickets)
    }

    fn with_db(db: sled::Db, ttl: TokenConfig, max_tickets: usize) -> Result<Self> {
        let tree = db.open_tree("tokens")?;
        let passwords = Passwords::open(&db)?;
        Ok(Auth {
            db,
            tree,
            passwords,
            ttl,
            max_tickets,
            tickets: Mutex::new(HashMap::new()),
            writer: Mutex::new(()),
        })
    }

    /// The supervisors' console passwords (tree `passwords` of this database).
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// The configured lifetimes.
    pub fn ttl(&self) -> &TokenConfig {
        &self.ttl
    }

    async fn flush(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }

    fn get(&self, hash: &Hash) -> Result<Option<Record>> {
        match self.tree.get(token_key(hash))? {
            Some(bytes) => Ok(Some(Record::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn lookup(&self, token: &str) -> Result<(Hash, Record)> {
        if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
            return Err(AuthError::Invalid);
        }
        let hash = hash_token(token);
        let record = self.get(&hash)?.ok_or(AuthError::Invalid)?;
        Ok((hash, record))
    }

    /// Adds a new credential to `batch`.
    fn mint(
        &self,
        batch: &mut sled::Batch,
        kind: TokenKind,
        principal: Principal,
        device: Option<StorageId>,
        ttl: Option<Duration>,
        now_ms: u64,
    ) -> Result<Issued> {
        let token = random_token(prefix(kind))?;
        let hash = hash_token(&token);
        let expires_at_ms = ttl.map(|t| now_ms.saturating_add(millis(t)));
        if let Some(device) = &device {
            batch.insert(device_key(device, &hash), &[][..]);
        }
        let record = Record {
            kind,
            principal,
            device,
            issued_at_ms: now_ms,
            expires_at_ms,
            revoked: false,
            used_at_ms: None,
            bootstrap: false,
        };
        batch.insert(token_key(&hash).to_vec(), record.encode()?);
        Ok(Issued {
            token,
            id: TokenId::of(&hash),
            expires_at_ms,
        })
    }

    /// Registers `token` (from `ZHICHAO_ADMIN_TOKEN`) as a non-expiring admin token with the
    /// principal id [`BOOTSTRAP_ADMIN_ID`], and removes earlier bootstrap tokens that differ.
    /// With `None` every bootstrap token is removed.
    ///
    /// # Errors
    /// [`AuthError::Storage`] or [`AuthError::Corrupt`].
    pub async fn bootstrap_admin(&self, token: Option<&Secret>, now_ms: u64) -> Result<()> {
        {
            let _w = lock(&self.writer);
            let keep = token.map(|t| hash_token(t.expose()));
            let mut batch = sled::Batch::default();
            for item in self.tree.scan_prefix([TOKEN_KEY]) {
                let (key, value) = item?;
                let record = Record::decode(&value)?;
                if record.bootstrap && key.get(1..) != keep.as_ref().map(|h| &h[..]) {
                    batch.remove(key);
                }
            }
            if let Some(hash) = keep {
                let record = Record {
                    kind: TokenKind::Access,
                    principal: Principal::Admin {
                        id: PrincipalId::new(BOOTSTRAP_ADMIN_ID)
                            .map_err(|e| AuthError::Corrupt(e.to_string()))?,
                    },
                    device: None,
                    issued_at_ms: now_ms,
                    expires_at_ms: None,
                    revoked: false,
                    used_at_ms: None,
                    bootstrap: true,
                };
                batch.insert(token_key(&hash).to_vec(), record.encode()?);
            }
            self.tree.apply_batch(batch)?;
        }
        self.flush().await
    }

    /// Issues an access token for `principal`, valid for `ttl`, optionally bound to a device.
    ///
    /// # Errors
    /// [`AuthError::Storage`], [`AuthError::Entropy`].
    pub async fn issue(
        &self,
        principal: Principal,
        device: Option<StorageId>,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<Issued> {
        let issued = {
            let mut batch = sled::Batch::default();
            let issued = self.mint(
                &mut batch,
                TokenKind::Access,
                principal,
                device,
                Some(ttl),
                now_ms,
            )?;
            self.tree.apply_batch(batch)?;
            issued
        };
        self.flush().await?;
        Ok(issued)
    }

    /// Checks an access token.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] (unknown, or not an access token), [`AuthError::Revoked`],
    /// [`AuthError::Expired`], or a storage error.
    pub fn authenticate(&self, token: &str, now_ms: u64) -> Result<Grant> {
        let (hash, record) = self.lookup(token)?;
        if record.kind != TokenKind::Access {
            return Err(AuthError::Invalid);
        }
        check_live(&record, now_ms)?;
        Ok(Grant {
            principal: record.principal,
            device: record.device,
            token_id: TokenId::of(&hash),
            expires_at_ms: record.expires_at_ms,
            hash,
        })
    }

    /// Whether the token behind `grant` is still live (not revoked, not expired): open sync
    /// connections re-check it, so revoking a device or letting its token expire ends them.
    ///
    /// # Errors
    /// [`AuthError::Revoked`], [`AuthError::Expired`], [`AuthError::Invalid`] (purged), or a
    /// storage error.
    pub fn recheck(&self, grant: &Grant, now_ms: u64) -> Result<()> {
        let record = self.get(&grant.hash)?.ok_or(AuthError::Invalid)?;
        check_live(&record, now_ms)
    }

    /// Creates a one-time enrollment code for `principal` on `device`, valid for `ttl`
    /// (default `tokens.enrollment_ttl`).
    ///
    /// # Errors
    /// [`AuthError::Storage`], [`AuthError::Entropy`].
    pub async fn create_enrollment(
        &self,
        principal: Principal,
        device: StorageId,
        ttl: Option<Duration>,
        now_ms: u64,
    ) -> Result<Issued> {
        let issued = {
            let mut batch = sled::Batch::default();
            let issued = self.mint(
                &mut batch,
                TokenKind::Enrollment,
                principal,
                Some(device),
                Some(ttl.unwrap_or(self.ttl.enrollment_ttl)),
                now_ms,
            )?;
            self.tree.apply_batch(batch)?;
            issued
        };
        self.flush().await?;
        Ok(issued)
    }

    /// Exchanges an enrollment code, once, for an access and a refresh token bound to the
    /// code's device. Earlier tokens of that device are revoked. When `device` is given it
    /// must be the code's device.
    ///
    /// # Errors
    /// [`AuthError::Invalid`], [`AuthError::Expired`], [`AuthError::Revoked`],
    /// [`AuthError::AlreadyUsed`], [`AuthError::DeviceMismatch`], or a storage error.
    pub async fn enroll(
        &self,
        code: &str,
        device: Option<&StorageId>,
        now_ms: u64,
    ) -> Result<TokenPair> {
        let pair = {
            let _w = lock(&self.writer);
            let (hash, mut record) = self.lookup(code)?;
            if record.kind != TokenKind::Enrollment {
                return Err(AuthError::Invalid);
            }
            check_live(&record, now_ms)?;
            if record.used_at_ms.is_some() {
                return Err(AuthError::AlreadyUsed);
            }
            let bound = record
                .device
                .clone()
                .ok_or_else(|| AuthError::Corrupt("enrollment code without device".to_owned()))?;
            if device.is_some_and(|d| *d != bound) {
                return Err(AuthError::DeviceMismatch);
            }
            let mut batch = sled::Batch::default();
            self.revoke_device_into(&mut batch, &bound, Some(&hash))?;
            record.used_at_ms = Some(now_ms);
            batch.insert(token_key(&hash).to_vec(), record.encode()?);
            let pair = self.mint_pair(&mut batch, record.principal, bound, now_ms)?;
            self.tree.apply_batch(batch)?;
            pair
        };
        self.flush().await?;
        Ok(pair)
    }

    fn mint_pair(
        &self,
        batch: &mut sled::Batch,
        principal: Principal,
        device: StorageId,
        now_ms: u64,
    ) -> Result<TokenPair> {
        let access = self.mint(
            batch,
            TokenKind::Access,
            principal.clone(),
            Some(device.clone()),
            Some(self.ttl.access_ttl),
            now_ms,
        )?;
        let refresh = self.mint(
            batch,
            TokenKind::Refresh,
            principal.clone(),
            Some(device.clone()),
            Some(self.ttl.refresh_ttl),
            now_ms,
        )?;
        Ok(TokenPair {
            access,
            refresh,
            principal,
            device,
        })
    }

    /// Rotates a refresh token: returns a new access and refresh token for the same principal
    /// and device and spends the old refresh token. A spent token presented again revokes
    /// every token of its device and fails with [`AuthError::RefreshReused`].
    ///
    /// # Errors
    /// [`AuthError::Invalid`], [`AuthError::Expired`], [`AuthError::Revoked`],
    /// [`AuthError::RefreshReused`], or a storage error.
    pub async fn refresh(&self, token: &str, now_ms: u64) -> Result<TokenPair> {
        let outcome = {
            let _w = lock(&self.writer);
            let (hash, mut record) = self.lookup(token)?;
            if record.kind != TokenKind::Refresh {
                return Err(AuthError::Invalid);
            }
            check_live(&record, now_ms)?;
            let device = record
                .device
                .clone()
                .ok_or_else(|| AuthError::Corrupt("refresh token without device".to_owned()))?;
            let mut batch = sled::Batch::default();
            if record.used_at_ms.is_some() {
                let revoked = self.revoke_device_into(&mut batch, &device, None)?;
                self.tree.apply_batch(batch)?;
                tracing::warn!(
                    token_id = %TokenId::of(&hash),
                    principal = %record.principal.id(),
                    revoked,
                    "refresh token reused; device tokens revoked"
                );
                Err(AuthError::RefreshReused)
            } else {
                record.used_at_ms = Some(now_ms);
                batch.insert(token_key(&hash).to_vec(), record.encode()?);
                let pair = self.mint_pair(&mut batch, record.principal, device, now_ms)?;
                self.tree.apply_batch(batch)?;
                Ok(pair)
            }
        };
        self.flush().await?;
        outcome
    }

    /// Marks every live token of `device` revoked in `batch`, except `except`; returns how
    /// many.
    fn revoke_device_into(
        &self,
        batch: &mut sled::Batch,
        device: &StorageId,
        except: Option<&Hash>,
    ) -> Result<usize> {
        let mut n = 0;
        for key in self.tree.scan_prefix(device_prefix(device)).keys() {
            let key = key?;
            let Some(hash) = key
                .len()
                .checked_sub(32)
                .and_then(|at| <Hash>::try_from(&key[at..]).ok())
            else {
                continue;
            };
            if except == Some(&hash) {
                continue;
            }
            if let Some(mut record) = self.get(&hash)?
                && !record.revoked
            {
                record.revoked = true;
                batch.insert(token_key(&hash).to_vec(), record.encode()?);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Revokes tokens; returns how many were newly revoked.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn revoke(&self, target: &RevokeTarget) -> Result<usize> {
        let n = {
            let _w = lock(&self.writer);
            let mut batch = sled::Batch::default();
            let mark = |batch: &mut sled::Batch, hash: &[u8], mut record: Record| {
                if record.revoked {
                    return Ok::<usize, AuthError>(0);
                }
                record.revoked = true;
                let mut key = vec![TOKEN_KEY];
                key.extend_from_slice(hash);
                batch.insert(key, record.encode()?);
                Ok(1)
            };
            let n = match target {
                RevokeTarget::Device(device) => {
                    self.revoke_device_into(&mut batch, device, None)?
                }
                RevokeTarget::Token(token) => match self.lookup(token) {
                    Ok((hash, record)) => mark(&mut batch, &hash, record)?,
                    Err(AuthError::Invalid) => 0,
                    Err(e) => return Err(e),
                },
                RevokeTarget::Id(id) => {
                    let mut prefix = vec![TOKEN_KEY];
                    prefix.extend_from_slice(&id.prefix_bytes());
                    let mut n = 0;
                    for item in self.tree.scan_prefix(prefix) {
                        let (key, value) = item?;
                        n += mark(&mut batch, &key[1..], Record::decode(&value)?)?;
                    }
                    n
                }
                RevokeTarget::Principal(pid) => {
                    let mut n = 0;
                    for item in self.tree.scan_prefix([TOKEN_KEY]) {
                        let (key, value) = item?;
                        let record = Record::decode(&value)?;
                        if record.principal.id() == pid {
                            n += mark(&mut batch, &key[1..], record)?;
                        }
                    }
                    n
                }
            };
            self.tree.apply_batch(batch)?;
            n
        };
        self.flush().await?;
        Ok(n)
    }

    /// The stored tokens (never the secrets), optionally only those of one principal.
    ///
    /// # Errors
    /// Storage errors.
    pub fn list(&self, principal: Option<&PrincipalId>) -> Result<Vec<TokenInfo>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([TOKEN_KEY]) {
            let (key, value) = item?;
            let record = Record::decode(&value)?;
            if principal.is_some_and(|p| record.principal.id() != p) {
                continue;
            }
            let hash = <Hash>::try_from(&key[1..])
                .map_err(|_| AuthError::Corrupt("token key length".to_owned()))?;
            out.push(record.info(&hash));
        }
        Ok(out)
    }

    /// Removes records that expired more than [`EXPIRED_RETENTION`] ago, and expired tickets;
    /// returns how many records were removed.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn purge_expired(&self, now_ms: u64) -> Result<usize> {
        lock(&self.tickets).retain(|_, t| t.expires_at_ms > now_ms);
        let cutoff = now_ms.saturating_sub(millis(EXPIRED_RETENTION));
        let n = {
            let _w = lock(&self.writer);
            let mut batch = sled::Batch::default();
            let mut n = 0;
            for item in self.tree.scan_prefix([TOKEN_KEY]) {
                let (key, value) = item?;
                let record = Record::decode(&value)?;
                if record.expired(cutoff) {
                    if let Some(device) = &record.device
                        && let Ok(hash) = <Hash>::try_from(&key[1..])
                    {
                        batch.remove(device_key(device, &hash));
                    }
                    batch.remove(key);
                    n += 1;
                }
            }
            self.tree.apply_batch(batch)?;
            n
        };
        if n > 0 {
            self.flush().await?;
        }
        Ok(n)
    }

    /// Issues a one-time WebSocket ticket for an authenticated client, valid for
    /// `tokens.ticket_ttl`. Kept in memory only.
    ///
    /// # Errors
    /// [`AuthError::TooManyTickets`] when `limits.max_tickets` are outstanding,
    /// [`AuthError::Entropy`].
    pub fn issue_ticket(&self, grant: &Grant, now_ms: u64) -> Result<Issued> {
        let mut tickets = lock(&self.tickets);
        tickets.retain(|_, t| t.expires_at_ms > now_ms);
        if tickets.len() >= self.max_tickets {
            return Err(AuthError::TooManyTickets);
        }
        let token = random_token(TICKET_PREFIX)?;
        let hash = hash_token(&token);
        let expires_at_ms = now_ms.saturating_add(millis(self.ttl.ticket_ttl));
        tickets.insert(
            hash,
            TicketEntry {
                grant: grant.clone(),
                expires_at_ms,
            },
        );
        Ok(Issued {
            token,
            id: TokenId::of(&hash),
            expires_at_ms: Some(expires_at_ms),
        })
    }

    /// Redeems a ticket: valid once, before it expires, while the token it was issued for is
    /// still live.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] (unknown or already used), [`AuthError::Expired`],
    /// [`AuthError::Revoked`], or a storage error.
    pub fn redeem_ticket(&self, ticket: &str, now_ms: u64) -> Result<Grant> {
        if ticket.is_empty() || ticket.len() > MAX_TOKEN_CHARS {
            return Err(AuthError::Invalid);
        }
        let entry = lock(&self.tickets)
            .remove(&hash_token(ticket))
            .ok_or(AuthError::Invalid)?;
        if now_ms >= entry.expires_at_ms {
            return Err(AuthError::Expired);
        }
        let source = self.get(&entry.grant.hash)?.ok_or(AuthError::Revoked)?;
        check_live(&source, now_ms)?;
        Ok(entry.grant)
    }
}

fn check_live(record: &Record, now_ms: u64) -> Result<()> {
    if record.revoked {
        return Err(AuthError::Revoked);
    }
    if record.expired(now_ms) {
        return Err(AuthError::Expired);
    }
    Ok(())
}

fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => ACCESS_PREFIX,
        TokenKind::Refresh => REFRESH_PREFIX,
        TokenKind::Enrollment => ENROLLMENT_PREFIX,
        TokenKind::Ticket => TICKET_PREFIX,
    }
}

fn random_token(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| AuthError::Entropy(e.to_string()))?;
    Ok(format!("{prefix}{}", hex(&bytes)))
}

fn token_key(hash: &Hash) -> [u8; 33] {
    let mut key = [TOKEN_KEY; 33];
    key[1..].copy_from_slice(hash);
    key
}

fn device_prefix(device: &StorageId) -> Vec<u8> {
    let mut key = Vec::with_capacity(device.as_str().len() + 2);
    key.push(DEVICE_KEY);
    key.extend_from_slice(device.as_str().as_bytes());
    key.push(0);
    key
}

fn device_key(device: &StorageId, hash: &Hash) -> Vec<u8> {
    let mut key = device_prefix(device);
    key.extend_from_slice(hash);
    key
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| char::from(c).to_digit(16);
            Some(u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).unwrap_or(0))
        })
        .collect()
}

// --- Extraction from requests ---------------------------------------------------------------

/// The bearer token of a request, if it sent an `Authorization` header.
///
/// # Errors
/// [`AuthError::Malformed`] when the header is not `Bearer <token>` with a visible-ASCII token
/// of at most [`MAX_TOKEN_CHARS`].
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = text.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.len() > MAX_TOKEN_CHARS
        || !token.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(AuthError::Malformed);
    }
    Ok(Some(token))
}

/// Authenticates a request by its bearer access token.
///
/// # Errors
/// [`AuthError::Missing`] without a header, else as [`bearer_token`] and
/// [`Auth::authenticate`].
pub fn authenticate_bearer(state: &AppState, headers: &HeaderMap) -> Result<Grant> {
    let token = bearer_token(headers)?.ok_or(AuthError::Missing)?;
    state.auth.authenticate(token, state.now_ms())
}

/// The `ticket` query parameter of a URI query string, if present (tickets need no
/// percent-decoding: they are ASCII letters, digits and `_`).
pub fn ticket_param(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("ticket="))
}

/// Checks the `Origin` of a WebSocket upgrade: requests without one (native clients) pass;
/// a browser's must be the server's own origin (same host as the `Host` header) or one of
/// `allowed_origins`.
///
/// # Errors
/// [`AuthError::OriginNotAllowed`].
pub fn check_origin(headers: &HeaderMap, config: &ServerConfig) -> Result<()> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| AuthError::OriginNotAllowed)?;
    if config.allowed_origins.iter().any(|o| o == origin) {
        return Ok(());
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(AuthError::OriginNotAllowed),
    }
}

/// Authenticates a WebSocket upgrade: the `Origin` check, then the bearer header if sent,
/// otherwise a one-time `?ticket=` (consumed here).
///
/// # Errors
/// [`AuthError::OriginNotAllowed`], [`AuthError::Missing`] when neither is sent, else as
/// [`Auth::authenticate`] / [`Auth::redeem_ticket`].
pub fn authenticate_upgrade(state: &AppState, parts: &Parts) -> Result<Grant> {
    check_origin(&parts.headers, &state.config)?;
    if let Some(token) = bearer_token(&parts.headers)? {
        return state.auth.authenticate(token, state.now_ms());
    }
    match ticket_param(parts.uri.query()) {
        Some(ticket) => state.auth.redeem_ticket(ticket, state.now_ms()),
        None => Err(AuthError::Missing),
    }
}

fn rejected(state: &AppState, e: AuthError) -> ApiError {
    match &e {
        AuthError::Storage(_) | AuthError::Corrupt(_) | AuthError::Entropy(_) => {}
        _ => state.metrics.record_auth_failure(),
    }
    ApiError::from(e)
}

/// Extractor: any authenticated principal (bearer access token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let grant = authenticate_bearer(state, &parts.headers).map_err(|e| rejected(state, e))?;
        Ok(Authenticated(grant.principal))
    }
}

/// Extractor: the full [`Grant`] of a bearer-authenticated request (principal, device,
/// token id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials(pub Grant);

impl FromRequestParts<AppState> for Credentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate_bearer(state, &parts.headers)
            .map(Credentials)
            .map_err(|e| rejected(state, e))
    }
}

/// Extractor: an administrator (403 for any other principal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin(pub PrincipalId);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let grant = authenticate_bearer(state, &parts.headers).map_err(|e| rejected(state, e))?;
        match grant.principal {
            Principal::Admin { id } => Ok(Admin(id)),
            _ => Err(rejected(state, AuthError::Forbidden { needed: "admin" })),
        }
    }
}

/// Extractor: a source unit's weighbridge system (`Principal::SourceUnitSystem`, 403 for any
/// other principal). It speaks for exactly one unit: the token's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceUnitSystem {
    /// The account.
    pub id: PrincipalId,
    /// The source unit (货运源头单位) it uploads for.
    pub unit: Uscc,
}

impl FromRequestParts<AppState> for SourceUnitSystem {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let grant = authenticate_bearer(state, &parts.headers).map_err(|e| rejected(state, e))?;
        match grant.principal {
            Principal::SourceUnitSystem { id, unit } => Ok(SourceUnitSystem { id, unit }),
            _ => Err(rejected(
                state,
                AuthError::Forbidden {
                    needed: "source_unit_system",
                },
            )),
        }
    }
}

/// Extractor for the WebSocket sync route: [`authenticate_upgrade`] (Origin check, then
/// bearer header or one-time `?ticket=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncAuth(pub Grant);

impl FromRequestParts<AppState> for SyncAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate_upgrade(state, parts)
            .map(SyncAuth)
            .map_err(|e| rejected(state, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhichao_core::jurisdiction::YANGCHENG_COUNTY;
    use zhichao_core::scope::Scope;

    const HOUR: Duration = Duration::from_secs(3_600);

    fn auth() -> Auth {
        Auth::temporary(TokenConfig::default(), 3).unwrap()
    }

    fn supervisor() -> Principal {
        Principal::Supervisor {
            id: PrincipalId::new("sup:li").unwrap(),
            scope: Scope::county(YANGCHENG_COUNTY).unwrap(),
        }
    }

    fn device(s: &str) -> StorageId {
        StorageId::new(s).unwrap()
    }

    #[tokio::test]
    async fn access_tokens_are_stored_hashed_and_expire() {
        let auth = auth();
        let issued = auth.issue(supervisor(), None, HOUR, 1_000).await.unwrap();
        assert!(issued.token.starts_with(ACCESS_PREFIX));
        assert_eq!(issued.token.len(), ACCESS_PREFIX.len() + 64);
        assert_eq!(issued.expires_at_ms, Some(1_000 + 3_600_000));
        assert!(!format!("{issued:?}").contains(&issued.token[4..]));
        // Nothing stored contains the token.
        for item in auth.tree.iter() {
            let (k, v) = item.unwrap();
            let needle = issued.token.as_bytes();
            assert!(!k.windows(needle.len()).any(|w| w == needle));
            assert!(!v.windows(needle.len()).any(|w| w == needle));
        }
        let grant = auth.authenticate(&issued.token, 2_000).unwrap();
        assert_eq!(grant.principal, supervisor());
        assert_eq!(grant.token_id, issued.id);
        assert!(matches!(
            auth.authenticate(&issued.token, 1_000 + 3_600_000),
            Err(AuthError::Expired)
        ));
        assert!(matches!(
            auth.authenticate("zat_nope", 0),
            Err(AuthError::Invalid)
        ));
        assert!(matches!(
            auth.authenticate(&"x".repeat(10_000), 0),
            Err(AuthError::Invalid)
        ));
    }

    #[tokio::test]
    async fn revoke_by_id_token_device_and_principal() {
        let auth = auth();
        let a = auth.issue(supervisor(), None, HOUR, 0).await.unwrap();
        let b = auth
            .issue(supervisor(), Some(device("phone-1")), HOUR, 0)
            .await
            .unwrap();
        let c = auth.issue(supervisor(), None, HOUR, 0).await.unwrap();
        assert_eq!(
            auth.revoke(&RevokeTarget::Id(a.id.clone())).await.unwrap(),
            1
        );
        assert_eq!(auth.revoke(&RevokeTarget::Id(a.id)).await.unwrap(), 0);
        assert!(matches!(
            auth.authenticate(&a.token, 1),
            Err(AuthError::Revoked)
        ));
        let n = auth
            .revoke(&RevokeTarget::Device(device("phone-1")))
            .await
            .unwrap();
        assert_eq!(n, 1);
        assert!(auth.authenticate(&b.token, 1).is_err());
        assert!(auth.authenticate(&c.token, 1).is_ok());
        let n = auth
            .revoke(&RevokeTarget::Token(c.token.clone()))
            .await
            .unwrap();
        assert_eq!(n, 1);
        let d = auth.issue(supervisor(), None, HOUR, 0).await.unwrap();
        let n = auth
            .revoke(&RevokeTarget::Principal(supervisor().id().clone()))
            .await
            .unwrap();
        assert_eq!(n, 1, "only d was still live");
        assert!(auth.authenticate(&d.token, 1).is_err());
        assert_eq!(auth.list(None).unwrap().len(), 4);
        assert!(auth.list(None).unwrap().iter().all(|t| t.revoked));
    }

    #[tokio::test]
    async fn enrollment_refresh_rotation_and_reuse() {
        let auth = auth();
        let phone = device("phone-7");
        let code = auth
            .create_enrollment(supervisor(), phone.clone(), None, 0)
            .await
            .unwrap();
        assert!(code.token.starts_with(ENROLLMENT_PREFIX));
        // A code is not an access token.
        assert!(matches!(
            auth.authenticate(&code.token, 1),
            Err(AuthError::Invalid)
        ));
        assert!(matches!(
            auth.enroll(&code.token, Some(&device("other")), 1).await,
            Err(AuthError::DeviceMismatch)
        ));
        let pair = auth.enroll(&code.token, Some(&phone), 1).await.unwrap();
        assert_eq!(pair.device, phone);
        assert!(matches!(
            auth.enroll(&code.token, None, 2).await,
            Err(AuthError::AlreadyUsed)
        ));
        let grant = auth.authenticate(&pair.access.token, 2).unwrap();
        assert_eq!(grant.device.as_ref(), Some(&phone));
        // A refresh token is not an access token, nor an access token a refresh token.
        assert!(auth.authenticate(&pair.refresh.token, 2).is_err());
        assert!(matches!(
            auth.refresh(&pair.access.token, 2).await,
            Err(AuthError::Invalid)
        ));
        let second = auth.refresh(&pair.refresh.token, 3).await.unwrap();
        assert_ne!(second.refresh.token, pair.refresh.token);
        let third = auth.refresh(&second.refresh.token, 4).await.unwrap();
        // Reusing a spent refresh token revokes the whole device.
        assert!(matches!(
            auth.refresh(&pair.refresh.token, 5).await,
            Err(AuthError::RefreshReused)
        ));
        assert!(matches!(
            auth.authenticate(&third.access.token, 6),
            Err(AuthError::Revoked)
        ));
        assert!(matches!(
            auth.refresh(&third.refresh.token, 6).await,
            Err(AuthError::Revoked)
        ));
        // Re-enrolling the device works and revokes nothing new.
        let again = auth
            .create_enrollment(supervisor(), phone.clone(), None, 7)
            .await
            .unwrap();
        let pair = auth.enroll(&again.token, None, 8).await.unwrap();
        assert!(auth.authenticate(&pair.access.token, 9).is_ok());
    }

    #[tokio::test]
    async fn expired_codes_and_refresh_tokens() {
        let auth = auth();
        let code = auth
            .create_enrollment(supervisor(), device("p"), Some(HOUR), 0)
            .await
            .unwrap();
        assert!(matches!(
            auth.enroll(&code.token, None, 3_600_000).await,
            Err(AuthError::Expired)
        ));
        let code = auth
            .create_enrollment(supervisor(), device("p"), None, 0)
            .await
            .unwrap();
        let pair = auth.enroll(&code.token, None, 0).await.unwrap();
        let late = millis(TokenConfig::default().refresh_ttl);
        assert!(matches!(
            auth.refresh(&pair.refresh.token, late).await,
            Err(AuthError::Expired)
        ));
    }

    #[tokio::test]
    async fn tickets_are_single_use_short_and_bounded() {
        let auth = auth();
        let issued = auth.issue(supervisor(), None, HOUR, 0).await.unwrap();
        let grant = auth.authenticate(&issued.token, 0).unwrap();
        let t = auth.issue_ticket(&grant, 0).unwrap();
        assert!(t.token.starts_with(TICKET_PREFIX));
        assert_eq!(t.expires_at_ms, Some(30_000));
        assert_eq!(auth.redeem_ticket(&t.token, 29_999).unwrap(), grant);
        assert!(matches!(
            auth.redeem_ticket(&t.token, 29_999),
            Err(AuthError::Invalid)
        ));
        let late = auth.issue_ticket(&grant, 0).unwrap();
        assert!(matches!(
            auth.redeem_ticket(&late.token, 30_000),
            Err(AuthError::Expired)
        ));
        // Revoking the token voids its tickets.
        let t = auth.issue_ticket(&grant, 0).unwrap();
        auth.revoke(&RevokeTarget::Id(grant.token_id.clone()))
            .await
            .unwrap();
        assert!(matches!(
            auth.redeem_ticket(&t.token, 1),
            Err(AuthError::Revoked)
        ));
        // At most three outstanding; expired ones make room.
        for _ in 0..3 {
            auth.issue_ticket(&grant, 100).unwrap();
        }
        assert!(matches!(
            auth.issue_ticket(&grant, 100),
            Err(AuthError::TooManyTickets)
        ));
        assert!(auth.issue_ticket(&grant, 40_000).is_ok());
        // Tickets are not bearer tokens.
        assert!(auth.authenticate(&t.token, 1).is_err());
    }

    #[tokio::test]
    async fn bootstrap_admin_replaces_the_previous_one() {
        let auth = auth();
        let first = Secret::new("first-admin-token-0123456789");
        let second = Secret::new("second-admin-token-0123456789");
        auth.bootstrap_admin(Some(&first), 0).await.unwrap();
        let grant = auth.authenticate(first.expose(), u64::MAX - 1).unwrap();
        assert!(matches!(grant.principal, Principal::Admin { .. }));
        auth.bootstrap_admin(Some(&first), 1).await.unwrap();
        assert_eq!(auth.list(None).unwrap().len(), 1, "idempotent");
        auth.bootstrap_admin(Some(&second), 2).await.unwrap();
        assert!(auth.authenticate(first.expose(), 3).is_err());
        assert!(auth.authenticate(second.expose(), 3).is_ok());
        auth.bootstrap_admin(None, 4).await.unwrap();
        assert!(auth.authenticate(second.expose(), 5).is_err());
        assert!(auth.list(None).unwrap().is_empty());
    }

    #[tokio::test]
    async fn purge_keeps_recent_records() {
        let auth = auth();
        let a = auth
            .issue(supervisor(), Some(device("p")), HOUR, 0)
            .await
            .unwrap();
        let after = millis(HOUR) + millis(EXPIRED_RETENTION);
        assert_eq!(auth.purge_expired(after - 1).await.unwrap(), 0);
        assert_eq!(auth.purge_expired(after).await.unwrap(), 1);
        assert!(auth.list(None).unwrap().is_empty());
        assert_eq!(auth.tree.len(), 0, "device index entries removed too");
        assert!(matches!(
            auth.authenticate(&a.token, after),
            Err(AuthError::Invalid)
        ));
    }

    #[test]
    fn token_ids_and_hex() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00abff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
        assert!("0123456789abcdef01234567".parse::<TokenId>().is_ok());
        assert!("0123456789ABCDEF01234567".parse::<TokenId>().is_ok());
        assert!("0123".parse::<TokenId>().is_err());
        assert!("zz23456789abcdef01234567".parse::<TokenId>().is_err());
        assert!("é".parse::<TokenId>().is_err());
    }

    #[test]
    fn bearer_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h).unwrap(), None);
        for (value, ok) in [
            ("Bearer abc", true),
            ("bearer  abc ", true),
            ("Basic abc", false),
            ("Bearer", false),
            ("Bearer a b", false),
            ("Bearer ", false),
        ] {
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(bearer_token(&h).is_ok(), ok, "{value:?}");
        }
        assert_eq!(ticket_param(Some("a=1&ticket=ztk_x")), Some("ztk_x"));
        assert_eq!(ticket_param(Some("tickets=1")), None);
        assert_eq!(ticket_param(None), None);
    }

    #[test]
    fn origins() {
        let config = ServerConfig {
            allowed_origins: vec!["https://console.example.org".to_owned()],
            ..ServerConfig::default()
        };
        let mut h = HeaderMap::new();
        assert!(check_origin(&h, &config).is_ok(), "native clients");
        h.insert(header::HOST, "sync.example.org".parse().unwrap());
        h.insert(header::ORIGIN, "https://sync.example.org".parse().unwrap());
        assert!(check_origin(&h, &config).is_ok(), "same origin");
        h.insert(
            header::ORIGIN,
            "https://console.example.org".parse().unwrap(),
        );
        assert!(check_origin(&h, &config).is_ok(), "allowed");
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(check_origin(&h, &config).is_err());
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(check_origin(&h, &config).is_err());
    }
}
