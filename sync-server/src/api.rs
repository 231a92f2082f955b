//! Request and response bodies of the HTTP API (admin, enrollment, refresh, tickets), shared
//! by the routes and the `zhichao admin` client. The bodies a device uses (enrollment,
//! refresh, tickets, errors) live in [`zhichao_core::api`], shared with the phone's client,
//! and are re-exported here.
//!
//! Times are UTC milliseconds since the Unix epoch (`*_at_ms`); lifetimes are text such as
//! `1h` or `7d` (see [`crate::config::parse_duration`]). Tokens appear in responses only,
//! once, when they are created: the server keeps their SHA-256 hashes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zhichao_core::access::Principal;
pub use zhichao_core::api::{
    EnrollRequest, ErrorBody, ErrorDetail, MeResponse, RefreshRequest, TicketResponse,
    TokenPairResponse,
};
use zhichao_core::ids::{PrincipalId, StorageId, TeamId};
use zhichao_core::scope::Scope;
use zhichao_core::uscc::Uscc;

/// The kind of a principal, as written on the command line and in JSON (`source_unit_system`;
/// the command line also takes `source-unit-system`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A field officer (transport inspector or traffic police) of a patrol team.
    Officer,
    /// An enterprise speaking for one source unit (货运源头单位).
    Enterprise,
    /// A supervisor (county office, township, department).
    Supervisor,
    /// A source unit's weighbridge uploader.
    SourceUnitSystem,
    /// An administrator.
    Admin,
    /// The server itself (writer of server documents).
    Server,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Officer,
        Role::Enterprise,
        Role::Supervisor,
        Role::SourceUnitSystem,
        Role::Admin,
        Role::Server,
    ];

    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Enterprise => "enterprise",
            Role::Supervisor => "supervisor",
            Role::SourceUnitSystem => "source_unit_system",
            Role::Admin => "admin",
            Role::Server => "server",
        }
    }

    /// The role of a principal.
    pub fn of(principal: &Principal) -> Role {
        match principal {
            Principal::Officer { .. } => Role::Officer,
            Principal::Enterprise { .. } => Role::Enterprise,
            Principal::Supervisor { .. } => Role::Supervisor,
            Principal::SourceUnitSystem { .. } => Role::SourceUnitSystem,
            Principal::Admin { .. } => Role::Admin,
            Principal::Server { .. } => Role::Server,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; one of officer, enterprise, supervisor, \
                     source-unit-system, admin, server"
                )
            })
    }
}

/// A principal as an admin describes it; the server checks it and fills in defaults
/// ([`PrincipalSpec::into_principal`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalSpec {
    /// The role.
    pub role: Role,
    /// The account id ([`PrincipalId`]), e.g. `officer:zhang-wei-0417`.
    pub name: String,
    /// Officers: their patrol team (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Officers, supervisors, the server: their scope (default: the server's county).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Enterprises and source-unit systems: the unit's unified social credit code (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Why a [`PrincipalSpec`] does not describe a principal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A required detail is missing.
    #[error("role {role} needs --{field}")]
    Missing {
        /// The role.
        role: Role,
        /// The missing detail.
        field: &'static str,
    },
    /// A detail that does not apply to the role was given.
    #[error("--{field} does not apply to role {role}")]
    NotApplicable {
        /// The role.
        role: Role,
        /// The detail.
        field: &'static str,
    },
    /// A detail is malformed.
    #[error("--{field}: {reason}")]
    Invalid {
        /// The detail.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The scope lies outside the server's county.
    #[error("scope {scope} is outside this server's county {county}")]
    OutsideCounty {
        /// The scope given.
        scope: Scope,
        /// The server's county.
        county: Scope,
    },
}

impl PrincipalSpec {
    /// Checks the spec and builds the principal; scopes default to, and must lie within,
    /// `county` (the server's [`crate::config::ServerConfig::county`]).
    ///
    /// # Errors
    /// [`SpecError`] naming the detail that is missing, superfluous or malformed.
    pub fn into_principal(self, county: &Scope) -> Result<Principal, SpecError> {
        let role = self.role;
        let invalid = |field: &'static str, reason: String| SpecError::Invalid { field, reason };
        let id = PrincipalId::new(&self.name).map_err(|e| invalid("name", e.to_string()))?;
        let needs = |field: &'static str, value: Option<String>| {
            value.ok_or(SpecError::Missing { role, field })
        };
        let refuse = |field: &'static str, value: &Option<String>| match value {
            Some(_) => Err(SpecError::NotApplicable { role, field }),
            None => Ok(()),
        };
        let scope = |value: Option<String>| -> Result<Scope, SpecError> {
            let Some(text) = value else {
                return Ok(*county);
            };
            let scope = Scope::parse(&text).map_err(|e| invalid("scope", e.to_string()))?;
            if county.contains(&scope) {
                Ok(scope)
            } else {
                Err(SpecError::OutsideCounty {
                    scope,
                    county: *county,
                })
            }
        };
        let unit = |value: Option<String>| -> Result<Uscc, SpecError> {
            needs("unit", value)?
                .parse()
                .map_err(|e: zhichao_core::uscc::UsccError| invalid("unit", e.to_string()))
        };
        Ok(match role {
            Role::Officer => {
                refuse("unit", &self.unit)?;
                let team = needs("team", self.team)?;
                Principal::Officer {
                    id,
                    team: TeamId::new(&team).map_err(|e| invalid("team", e.to_string()))?,
                    scope: scope(self.scope)?,
                }
            }
            Role::Supervisor | Role::Server => {
                refuse("unit", &self.unit)?;
                refuse("team", &self.team)?;
                let scope = scope(self.scope)?;
                if role == Role::Supervisor {
                    Principal::Supervisor { id, scope }
                } else {
                    Principal::Server { id, scope }
                }
            }
            Role::Enterprise | Role::SourceUnitSystem => {
                refuse("team", &self.team)?;
                refuse("scope", &self.scope)?;
                let unit = unit(self.unit)?;
                if role == Role::Enterprise {
                    Principal::Enterprise { id, unit }
                } else {
                    Principal::SourceUnitSystem { id, unit }
                }
            }
            Role::Admin => {
                refuse("team", &self.team)?;
                refuse("scope", &self.scope)?;
                refuse("unit", &self.unit)?;
                Principal::Admin { id }
            }
        })
    }
}

/// `POST /v1/admin/tokens`: issue an access token directly (integrators, tests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueTokenRequest {
    /// Who the token speaks for.
    pub principal: PrincipalSpec,
    /// Lifetime, e.g. `1h` (default: the configured access token lifetime; at most
    /// `tokens.max_issued_ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// The device ([`StorageId`]) the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// Answer to [`IssueTokenRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTokenResponse {
    /// The bearer token (shown once).
    pub token: String,
    /// Its id, for listing and revoking.
    pub id: String,
    /// Expiry, UTC ms.
    pub expires_at_ms: Option<u64>,
    /// The principal it speaks for.
    pub principal: Principal,
}

/// `POST /v1/admin/enrollments`: a one-time enrollment code for a principal's device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEnrollmentRequest {
    /// Who the device will speak for.
    pub principal: PrincipalSpec,
    /// The device: the storage id it announces when syncing.
    pub device: String,
    /// Lifetime of the code (default: `tokens.enrollment_ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// Answer to [`CreateEnrollmentRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentResponse {
    /// The one-time code (shown once).
    pub code: String,
    /// Its id.
    pub id: String,
    /// Expiry, UTC ms.
    pub expires_at_ms: Option<u64>,
    /// The principal.
    pub principal: Principal,
    /// The device.
    pub device: StorageId,
}

/// `POST /v1/admin/supervisors`: a supervisor's account for the web console (password login).
/// Adding an existing account again replaces its password and scope, lifts a lockout and
/// ends its console sessions.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSupervisorRequest {
    /// The account id ([`PrincipalId`]), e.g. `supervisor:zhao`.
    pub name: String,
    /// What the supervisor oversees: `140522` (the county), `140522/township/140522100`,
    /// `140522/dept/emergency_management` (default: the server's county).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The password (10 to 256 characters, no control characters, not only spaces); without
    /// one the server generates one and answers it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for AddSupervisorRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddSupervisorRequest")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Answer to [`AddSupervisorRequest`] (201).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddSupervisorResponse {
    /// The account id (what the supervisor types as 账号).
    pub id: PrincipalId,
    /// Its scope.
    pub scope: Scope,
    /// The generated password, shown once; absent when the request gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// True when the account existed and its password was replaced.
    pub replaced: bool,
}

impl fmt::Debug for AddSupervisorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddSupervisorResponse")
            .field("id", &self.id)
            .field("scope", &self.scope)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("replaced", &self.replaced)
            .finish()
    }
}

/// `POST /v1/admin/revoke`: exactly one of the fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// A token id (from issue or list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Every token of a device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Every token of a principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// Answer to [`RevokeRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeResponse {
    /// How many tokens were newly revoked.
    pub revoked: usize,
}

/// What kind of credential a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Bearer token for HTTP and sync.
    Access,
    /// Exchanged once for a new access + refresh pair.
    Refresh,
    /// One-time code a device exchanges for its first pair.
    Enrollment,
    /// One-time, short-lived WebSocket ticket.
    Ticket,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::Enrollment => "enrollment",
            TokenKind::Ticket => "ticket",
        })
    }
}

/// A stored token as listed by `GET /v1/admin/tokens` (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The token id.
    pub id: String,
    /// Kind.
    pub kind: TokenKind,
    /// Who it speaks for.
    pub principal: Principal,
    /// Bound device, if any.
    pub device: Option<StorageId>,
    /// Issue time, UTC ms.
    pub issued_at_ms: u64,
    /// Expiry, UTC ms; `None` for the bootstrap admin token.
    pub expires_at_ms: Option<u64>,
    /// Revoked by an admin or by refresh-token reuse.
    pub revoked: bool,
    /// Used (enrollment codes, rotated refresh tokens), UTC ms.
    pub used_at_ms: Option<u64>,
}

/// Answer to `GET /v1/admin/tokens`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    /// The tokens, by id.
    pub tokens: Vec<TokenInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhichao_core::jurisdiction::YANGCHENG_COUNTY;

    fn county() -> Scope {
        Scope::county(YANGCHENG_COUNTY).unwrap()
    }

    fn spec(role: Role) -> PrincipalSpec {
        PrincipalSpec {
            role,
            name: "p:1".to_owned(),
            team: None,
            scope: None,
            unit: None,
        }
    }

    #[test]
    fn roles_parse_both_spellings() {
        assert_eq!(
            "source-unit-system".parse::<Role>(),
            Ok(Role::SourceUnitSystem)
        );
        assert_eq!("officer".parse::<Role>(), Ok(Role::Officer));
        assert!("mayor".parse::<Role>().is_err());
        assert_eq!(
            serde_json::to_string(&Role::SourceUnitSystem).unwrap(),
            "\"source_unit_system\""
        );
    }

    #[test]
    fn specs_become_principals_with_defaults() {
        let officer = PrincipalSpec {
            team: Some("team-1".to_owned()),
            ..spec(Role::Officer)
        };
        match officer.into_principal(&county()).unwrap() {
            Principal::Officer { scope, team, .. } => {
                assert_eq!(scope, county());
                assert_eq!(team.as_str(), "team-1");
            }
            other => panic!("{other:?}"),
        }
        let township = PrincipalSpec {
            scope: Some("140522/township/140522100".to_owned()),
            ..spec(Role::Supervisor)
        };
        assert!(matches!(
            township.into_principal(&county()),
            Ok(Principal::Supervisor { .. })
        ));
        let enterprise = PrincipalSpec {
            unit: Some("914403001922038216".to_owned()),
            ..spec(Role::Enterprise)
        };
        assert!(matches!(
            enterprise.into_principal(&county()),
            Ok(Principal::Enterprise { .. })
        ));
        assert!(matches!(
            spec(Role::Admin).into_principal(&county()),
            Ok(Principal::Admin { .. })
        ));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        assert_eq!(
            spec(Role::Officer).into_principal(&county()),
            Err(SpecError::Missing {
                role: Role::Officer,
                field: "team"
            })
        );
        assert!(matches!(
            spec(Role::Enterprise).into_principal(&county()),
            Err(SpecError::Missing { field: "unit", .. })
        ));
        let bad_unit = PrincipalSpec {
            unit: Some("914403001922038217".to_owned()),
            ..spec(Role::SourceUnitSystem)
        };
        assert!(matches!(
            bad_unit.into_principal(&county()),
            Err(SpecError::Invalid { field: "unit", .. })
        ));
        let elsewhere = PrincipalSpec {
            scope: Some("140521".to_owned()),
            ..spec(Role::Supervisor)
        };
        assert!(matches!(
            elsewhere.into_principal(&county()),
            Err(SpecError::OutsideCounty { .. })
        ));
        let admin_with_team = PrincipalSpec {
            team: Some("t".to_owned()),
            ..spec(Role::Admin)
        };
        assert_eq!(
            admin_with_team
                .into_principal(&county())
                .unwrap_err()
                .to_string(),
            "--team does not apply to role admin"
        );
        let bad_name = PrincipalSpec {
            name: "a b".to_owned(),
            ..spec(Role::Admin)
        };
        assert!(matches!(
            bad_name.into_principal(&county()),
            Err(SpecError::Invalid { field: "name", .. })
        ));
        let bad_scope = PrincipalSpec {
            scope: Some("140522/planet/x".to_owned()),
            ..spec(Role::Server)
        };
        assert!(matches!(
            bad_scope.into_principal(&county()),
            Err(SpecError::Invalid { field: "scope", .. })
        ));
    }
}
