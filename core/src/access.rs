//! Who may read and write which document, decided from immutable headers only.
//!
//! Each document has one kind of writer (see [`crate::docs::DocKind`]); read rights follow the
//! scope and the links between documents. The rules (issue "Sync hub and sync server"):
//!
//! - officers write the `case` and `notice` documents of their own team; they read cases in
//!   their scope, the reviews of their team's cases and of responses to their team's notices,
//!   the responses to their team's notices, and unit profiles of their scope;
//! - an enterprise writes its own responses; it reads the notices addressed to it, the reviews
//!   of its responses, and its own unit profile;
//! - supervisors write reviews and unit profiles and read everything in their scope;
//! - the server writes server documents, which everyone in their scope reads;
//! - admins manage accounts, not documents; source-unit systems upload weighings over HTTP.
//!
//! Rules that depend on another document (a review of a case, a response to a notice) take the
//! ancestors' headers: the parent first, then the grandparent.

use serde::{Deserialize, Serialize};

use crate::docs::{DocKind, Header};
use crate::ids::{PrincipalId, TeamId};
use crate::scope::Scope;
use crate::uscc::Uscc;

/// An authenticated party and what its rights depend on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Principal {
    /// A field officer (transport inspector or traffic police) of a patrol team.
    Officer {
        /// Account.
        id: PrincipalId,
        /// The officer's team.
        team: TeamId,
        /// Where the officer works.
        scope: Scope,
    },
    /// An enterprise (one source unit).
    Enterprise {
        /// Account.
        id: PrincipalId,
        /// The unit it speaks for.
        unit: Uscc,
    },
    /// A supervisor (county office, township, department).
    Supervisor {
        /// Account.
        id: PrincipalId,
        /// What the supervisor oversees.
        scope: Scope,
    },
    /// A source unit's weighbridge system (uploads weighings; no documents).
    SourceUnitSystem {
        /// Account.
        id: PrincipalId,
        /// The unit.
        unit: Uscc,
    },
    /// An administrator (accounts and devices; no documents).
    Admin {
        /// Account.
        id: PrincipalId,
    },
    /// The server itself, writer of server documents.
    Server {
        /// The server's principal id.
        id: PrincipalId,
        /// The county it serves.
        scope: Scope,
    },
}

impl Principal {
    /// The principal's account id.
    pub fn id(&self) -> &PrincipalId {
        match self {
            Principal::Officer { id, .. }
            | Principal::Enterprise { id, .. }
            | Principal::Supervisor { id, .. }
            | Principal::SourceUnitSystem { id, .. }
            | Principal::Admin { id }
            | Principal::Server { id, .. } => id,
        }
    }
}

/// May `p` create a document with this header? The creator must be `p` itself, and the kind
/// and scope ones `p` may write.
pub fn can_create(p: &Principal, header: &Header, ancestors: &[Header]) -> bool {
    header.created_by == *p.id() && can_write(p, header, ancestors)
}

/// May `p` write (add changes to) a document with this header?
pub fn can_write(p: &Principal, header: &Header, ancestors: &[Header]) -> bool {
    match (p, header.kind) {
        (Principal::Officer { team, scope, .. }, DocKind::Case | DocKind::Notice) => {
            header.team.as_ref() == Some(team) && scope.contains(&header.scope)
        }
        // A response answers a notice to the unit, in the notice's scope: the supervisors
        // who read the notice read the answer (and no one outside them).
        (Principal::Enterprise { unit, .. }, DocKind::Response) => {
            header.unit.as_ref() == Some(unit)
                && parent(ancestors, header).is_some_and(|n| {
                    n.kind == DocKind::Notice
                        && n.unit.as_ref() == Some(unit)
                        && n.scope == header.scope
                })
        }
        (Principal::Supervisor { scope, .. }, DocKind::Unit) => scope.contains(&header.scope),
        // A review reviews something: a case or a response that is there, in the
        // supervisor's own scope (a township cannot accept another township's case by
        // labelling its review with its own scope).
        (Principal::Supervisor { scope, .. }, DocKind::Review) => {
            scope.contains(&header.scope)
                && parent(ancestors, header).is_some_and(|p| {
                    matches!(p.kind, DocKind::Case | DocKind::Response) && scope.contains(&p.scope)
                })
        }
        (Principal::Server { scope, .. }, DocKind::Rules | DocKind::WatchList) => {
            scope.contains(&header.scope)
        }
        _ => false,
    }
}

/// May `p` read a document with this header?
pub fn can_read(p: &Principal, header: &Header, ancestors: &[Header]) -> bool {
    if can_write(p, header, ancestors) {
        return true;
    }
    if matches!(header.kind, DocKind::Rules | DocKind::WatchList) {
        // The county's rules and watch lists apply in all its parts: read from any scope
        // within or above.
        return match p {
            Principal::Officer { scope, .. } | Principal::Supervisor { scope, .. } => {
                header.scope.contains(scope) || scope.contains(&header.scope)
            }
            Principal::Server { scope, .. } => scope.contains(&header.scope),
            _ => false,
        };
    }
    match p {
        Principal::Officer { team, scope, .. } => match header.kind {
            DocKind::Case | DocKind::Unit => scope.contains(&header.scope),
            DocKind::Notice => header.team.as_ref() == Some(team),
            DocKind::Response => parent(ancestors, header)
                .is_some_and(|n| n.kind == DocKind::Notice && n.team.as_ref() == Some(team)),
            DocKind::Review => match parent(ancestors, header) {
                Some(c) if c.kind == DocKind::Case => c.team.as_ref() == Some(team),
                Some(r) if r.kind == DocKind::Response => ancestors
                    .get(1)
                    .is_some_and(|n| n.kind == DocKind::Notice && n.team.as_ref() == Some(team)),
                _ => false,
            },
            DocKind::Rules | DocKind::WatchList => false,
        },
        Principal::Enterprise { unit, .. } => match header.kind {
            DocKind::Notice | DocKind::Unit => header.unit.as_ref() == Some(unit),
            DocKind::Review => parent(ancestors, header)
                .is_some_and(|r| r.kind == DocKind::Response && r.unit.as_ref() == Some(unit)),
            _ => false,
        },
        Principal::Supervisor { scope, .. } => scope.contains(&header.scope),
        Principal::Server { scope, .. } => scope.contains(&header.scope),
        Principal::SourceUnitSystem { .. } | Principal::Admin { .. } => false,
    }
}

/// Does a document with this header *concern* `p`, so that discovery should deliver it when it
/// changes? What `p` may read, except that an officer is not sent the cases of other teams:
/// those stay readable on request (by id), but a patrol's phone holds its own team's cases,
/// the notices it issued with their responses and reviews, the unit profiles and the server
/// documents of its scope — not every case of the county (the offline plate lookup across
/// teams is the watch-list's job).
pub fn concerns(p: &Principal, header: &Header, ancestors: &[Header]) -> bool {
    match p {
        Principal::Officer { team, .. } if header.kind == DocKind::Case => {
            header.team.as_ref() == Some(team)
        }
        _ => can_read(p, header, ancestors),
    }
}

/// The parent header, when the document has a parent and it was supplied.
fn parent<'a>(ancestors: &'a [Header], header: &Header) -> Option<&'a Header> {
    header.parent.and(ancestors.first())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::SCHEMA_VERSION;
    use crate::ids::DocumentId;
    use crate::jurisdiction::{AdminCode, YANGCHENG_COUNTY};

    fn pid(s: &str) -> PrincipalId {
        PrincipalId::new(s).unwrap()
    }

    fn county() -> Scope {
        Scope::county(YANGCHENG_COUNTY).unwrap()
    }

    fn township(code: &str) -> Scope {
        Scope::township(YANGCHENG_COUNTY, code.parse::<AdminCode>().unwrap()).unwrap()
    }

    fn uscc() -> Uscc {
        "914403001922038216".parse().unwrap()
    }

    fn other_uscc() -> Uscc {
        "91110000802100433B".parse().unwrap()
    }

    fn header(
        kind: DocKind,
        scope: Scope,
        team: Option<&str>,
        unit: Option<Uscc>,
        by: &str,
    ) -> Header {
        Header {
            kind,
            schema: SCHEMA_VERSION,
            scope,
            team: team.map(|t| TeamId::new(t).unwrap()),
            unit,
            parent: matches!(kind, DocKind::Response | DocKind::Review)
                .then(|| DocumentId::from_bytes([7; 16])),
            created_by: pid(by),
            created_at_ms: 0,
        }
    }

    fn officer(team: &str, scope: Scope) -> Principal {
        Principal::Officer {
            id: pid("officer:wang"),
            team: TeamId::new(team).unwrap(),
            scope,
        }
    }

    #[test]
    fn discovery_brings_an_officer_the_teams_cases_not_the_countys() {
        let wang = officer("team-1", county());
        let own = header(DocKind::Case, county(), Some("team-1"), None, "officer:li");
        let other = header(
            DocKind::Case,
            county(),
            Some("team-2"),
            None,
            "officer:zhao",
        );
        assert!(concerns(&wang, &own, &[]));
        assert!(can_read(&wang, &other, &[]) && !concerns(&wang, &other, &[]));
        // Everything else follows read access.
        let review = header(DocKind::Review, county(), None, None, "supervisor:liu");
        assert_eq!(
            concerns(&wang, &review, std::slice::from_ref(&own)),
            can_read(&wang, &review, &[own])
        );
        let supervisor = Principal::Supervisor {
            id: pid("supervisor:liu"),
            scope: county(),
        };
        assert!(concerns(&supervisor, &other, &[]));
    }

    #[test]
    fn officers_write_their_teams_cases_and_read_their_scope() {
        let wang = officer("team-1", county());
        let case = header(
            DocKind::Case,
            county(),
            Some("team-1"),
            None,
            "officer:wang",
        );
        assert!(can_create(&wang, &case, &[]));
        assert!(can_write(&wang, &case, &[]));
        let other_team = header(DocKind::Case, county(), Some("team-2"), None, "officer:li");
        assert!(!can_write(&wang, &other_team, &[]));
        assert!(
            can_read(&wang, &other_team, &[]),
            "cases in scope are readable"
        );
        // Creating with someone else as creator, or another team's header, is refused.
        let forged = header(DocKind::Case, county(), Some("team-1"), None, "officer:li");
        assert!(!can_create(&wang, &forged, &[]));
        // An officer of another county reads nothing of this one.
        let elsewhere = officer("team-1", Scope::county("140521".parse().unwrap()).unwrap());
        assert!(!can_read(&elsewhere, &case, &[]));
        assert!(!can_write(&elsewhere, &case, &[]));
        // A township officer does not read a county-wide case.
        let local = officer("team-1", township("140522100"));
        assert!(!can_read(&local, &other_team, &[]));
        // Officers never write reviews, responses or units.
        let review = header(DocKind::Review, county(), None, None, "officer:wang");
        assert!(!can_write(&wang, &review, std::slice::from_ref(&case)));
    }

    #[test]
    fn reviews_and_responses_follow_their_parents() {
        let wang = officer("team-1", county());
        let case = header(
            DocKind::Case,
            county(),
            Some("team-1"),
            None,
            "officer:wang",
        );
        let notice = header(
            DocKind::Notice,
            county(),
            Some("team-1"),
            Some(uscc()),
            "officer:wang",
        );
        let response = header(DocKind::Response, county(), None, Some(uscc()), "unit:a");
        let review = header(DocKind::Review, county(), None, None, "supervisor:zhao");
        assert!(can_read(&wang, &review, std::slice::from_ref(&case)));
        assert!(can_read(&wang, &response, std::slice::from_ref(&notice)));
        assert!(can_read(
            &wang,
            &review,
            &[response.clone(), notice.clone()]
        ));
        let li = officer("team-2", township("140522100"));
        assert!(!can_read(&li, &review, std::slice::from_ref(&case)));
        assert!(!can_read(&li, &response, std::slice::from_ref(&notice)));
        // Without the ancestors nothing is granted.
        assert!(!can_read(&li, &review, &[]));

        let enterprise = Principal::Enterprise {
            id: pid("unit:a"),
            unit: uscc(),
        };
        assert!(can_create(
            &enterprise,
            &response,
            std::slice::from_ref(&notice)
        ));
        // Only in the notice's scope: an answer labelled with another scope (another county's,
        // where other supervisors would read it) is refused.
        let elsewhere = Header {
            scope: crate::fixtures::other_county(),
            ..response.clone()
        };
        assert!(!can_create(
            &enterprise,
            &elsewhere,
            std::slice::from_ref(&notice)
        ));
        assert!(can_read(&enterprise, &notice, &[]));
        assert!(can_read(
            &enterprise,
            &review,
            std::slice::from_ref(&response)
        ));
        assert!(
            !can_read(&enterprise, &case, &[]),
            "enterprises never read cases"
        );
        assert!(!can_read(&enterprise, &review, std::slice::from_ref(&case)));
        let stranger = Principal::Enterprise {
            id: pid("unit:b"),
            unit: other_uscc(),
        };
        assert!(!can_read(&stranger, &notice, &[]));
        assert!(!can_write(
            &stranger,
            &response,
            std::slice::from_ref(&notice)
        ));
        // An enterprise pushing changes to a case is refused.
        assert!(!can_write(&enterprise, &case, &[]));
    }

    #[test]
    fn supervisors_review_in_their_scope() {
        let zhao = Principal::Supervisor {
            id: pid("supervisor:zhao"),
            scope: county(),
        };
        let review = header(DocKind::Review, county(), None, None, "supervisor:zhao");
        let case = header(
            DocKind::Case,
            county(),
            Some("team-1"),
            None,
            "officer:wang",
        );
        assert!(can_create(&zhao, &review, std::slice::from_ref(&case)));
        assert!(can_read(&zhao, &case, &[]));
        assert!(!can_write(&zhao, &case, &[]));
        let town = Principal::Supervisor {
            id: pid("supervisor:town"),
            scope: township("140522100"),
        };
        assert!(!can_read(&town, &case, &[]));
        let unit = header(
            DocKind::Unit,
            township("140522100"),
            None,
            Some(uscc()),
            "supervisor:town",
        );
        assert!(can_create(&town, &unit, &[]));
        let admin = Principal::Admin { id: pid("admin") };
        assert!(!can_read(&admin, &case, &[]));
    }

    #[test]
    fn a_supervisor_reviews_only_what_lies_in_its_scope() {
        let town_a = township("140522100");
        let town_b = township("140522101");
        let case_a = header(
            DocKind::Case,
            town_a,
            Some("team-1"),
            Some(uscc()),
            "officer:wang",
        );
        let b = Principal::Supervisor {
            id: pid("supervisor:b"),
            scope: town_b,
        };
        // Township B labels its review of township A's case with its own scope.
        let review_b = header(DocKind::Review, town_b, None, None, "supervisor:b");
        assert!(!can_create(&b, &review_b, std::slice::from_ref(&case_a)));
        // Township A and the county office may review it.
        let a = Principal::Supervisor {
            id: pid("supervisor:a"),
            scope: town_a,
        };
        let review_a = header(DocKind::Review, town_a, None, None, "supervisor:a");
        assert!(can_create(&a, &review_a, std::slice::from_ref(&case_a)));
        let county_office = Principal::Supervisor {
            id: pid("supervisor:a"),
            scope: county(),
        };
        assert!(can_create(
            &county_office,
            &review_a,
            std::slice::from_ref(&case_a)
        ));
        // The same for a response addressed to township A.
        let response_a = header(
            DocKind::Response,
            town_a,
            None,
            Some(uscc()),
            "enterprise:x",
        );
        let review_b = header(
            DocKind::Review,
            township("140522101"),
            None,
            None,
            "supervisor:b",
        );
        assert!(!can_create(&b, &review_b, &[response_a]));
    }
}
