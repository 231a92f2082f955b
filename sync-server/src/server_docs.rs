//! Server documents: documents the server itself writes, through the sync hub like any other
//! change, and phones receive by discovery. Here: the county's `rules` document
//! ([`zhichao_core::docs::RulesVersions`]), which holds every rules version put in force.

use std::time::Duration;

use automerge::ActorId;
use zhichao_core::docs::{
    DocError, DocKind, Header, RulesVersion, RulesVersions, SCHEMA_VERSION, TypedDoc,
    rules_document_id,
};
use zhichao_core::ids::DocumentId;
use zhichao_core::rules::RulesConfig;

use crate::AppState;

/// How long the hub may take to store a server document.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a server document could not be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerDocError {
    /// The stored document cannot be read.
    #[error("cannot read the stored {what}: {reason}")]
    Stored {
        /// Which document.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The rules id in the configuration was put in force before with other content.
    #[error(
        "[rules] id {id:?} was put in force before with other settings ({differences}); cases \
         record the id, so it must keep its meaning: give the new settings a new id"
    )]
    RulesIdReused {
        /// The id.
        id: String,
        /// The settings that differ, `key: then → now`.
        differences: String,
    },
    /// The document could not be built.
    #[error(transparent)]
    Doc(Box<DocError>),
    /// The hub refused the write or did not answer.
    #[error("the sync hub did not store the {what}: {reason}")]
    Write {
        /// Which document.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl From<DocError> for ServerDocError {
    fn from(e: DocError) -> Self {
        ServerDocError::Doc(Box::new(e))
    }
}

/// What [`publish_rules`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// The document was created with this version.
    Created(DocumentId),
    /// The version was appended.
    Appended(DocumentId),
    /// The version was already in force.
    Unchanged(DocumentId),
}

/// Puts `rules` in force: creates the county's `rules` document, or appends `rules` as a new
/// version when its id is not the one in force. Reusing an id of an earlier version with
/// different settings is refused (cases record the id; it must mean one thing forever).
/// Putting an earlier id back in force with its settings (a rollback, or a server started
/// without `[rules]` again) appends it again.
///
/// # Errors
/// [`ServerDocError`].
pub async fn publish_rules(
    state: &AppState,
    rules: &RulesConfig,
    now_ms: i64,
) -> Result<Published, ServerDocError> {
    const WHAT: &str = "rules document";
    let id = rules_document_id(&state.config.county);
    let stored = state.docs.load(&id).map_err(|e| ServerDocError::Stored {
        what: WHAT,
        reason: e.to_string(),
    })?;
    let version = RulesVersion::of(rules, now_ms)?;
    let (changes, outcome) = match stored {
        None => {
            let header = Header {
                kind: DocKind::Rules,
                schema: SCHEMA_VERSION,
                scope: state.config.county,
                team: None,
                unit: None,
                parent: None,
                created_by: state.server_principal().id().clone(),
                created_at_ms: now_ms,
            };
            let doc = TypedDoc::create(
                id,
                ActorId::random(),
                &header,
                &RulesVersions {
                    versions: vec![version],
                },
            )?;
            (doc.automerge().save(), Published::Created(id))
        }
        Some(loaded) => {
            let mut doc =
                TypedDoc::<RulesVersions>::open(id, loaded.doc.with_actor(ActorId::random()))?;
            let body = doc.body()?;
            if body.in_force().is_some_and(|v| v.id == rules.id) {
                check_same(&body, rules)?;
                tracing::info!(rules = %rules.id, doc_id = %id, "rules in force (unchanged)");
                return Ok(Published::Unchanged(id));
            }
            check_same(&body, rules)?;
            let heads = doc.automerge().get_heads();
            let server = state.server_principal().id().clone();
            // `TypedDoc::update` takes a closure returning core's `DocError`.
            #[expect(clippy::result_large_err, reason = "the signature is core's")]
            let append = |b: &mut RulesVersions| {
                b.versions.push(version);
                Ok(())
            };
            doc.update(&server, now_ms, append)?;
            (doc.automerge().save_after(&heads), Published::Appended(id))
        }
    };
    write(state, id, changes, WHAT, WRITE_TIMEOUT).await?;
    tracing::info!(rules = %rules.id, doc_id = %id, outcome = ?outcome, "rules in force");
    Ok(outcome)
}

/// Hands the server's `changes` to document `id` to the sync hub (as
/// [`AppState::server_principal`]) and waits at most `timeout` for it to store them.
///
/// # Errors
/// [`ServerDocError::Write`] naming `what` when the hub refuses, has stopped or does not
/// answer in time.
pub async fn write(
    state: &AppState,
    id: DocumentId,
    changes: Vec<u8>,
    what: &'static str,
    timeout: Duration,
) -> Result<(), ServerDocError> {
    let answer = tokio::time::timeout(
        timeout,
        state.sync.write(id, changes, state.server_principal()),
    )
    .await;
    match answer {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(reason))) => Err(ServerDocError::Write { what, reason }),
        Ok(Err(_)) => Err(ServerDocError::Write {
            what,
            reason: "the sync thread stopped".to_owned(),
        }),
        Err(_) => Err(ServerDocError::Write {
            what,
            reason: format!("no answer within {} s", timeout.as_secs()),
        }),
    }
}

/// Refuses an id that was in force before with other settings.
fn check_same(body: &RulesVersions, rules: &RulesConfig) -> Result<(), ServerDocError> {
    if let Some(earlier) = body.version(&rules.id) {
        let earlier = earlier.config()?;
        if earlier != *rules {
            return Err(ServerDocError::RulesIdReused {
                id: rules.id.clone(),
                differences: differences(&earlier, rules),
            });
        }
    }
    Ok(())
}

/// The settings of two rules versions that differ, as `key: then → now`.
fn differences(then: &RulesConfig, now: &RulesConfig) -> String {
    let table = |c: &RulesConfig| match toml::Value::try_from(c) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    let (then, now) = (table(then), table(now));
    let mut keys: Vec<&String> = then.keys().chain(now.keys()).collect();
    keys.sort();
    keys.dedup();
    let shown = |v: Option<&toml::Value>| v.map_or_else(|| "unset".to_owned(), ToString::to_string);
    keys.into_iter()
        .filter(|k| then.get(*k) != now.get(*k))
        .map(|k| format!("{k}: {} → {}", shown(then.get(k)), shown(now.get(k))))
        .collect::<Vec<_>>()
        .join(", ")
}
