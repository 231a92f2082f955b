//! samod writes where it may not: our server stores nothing, tells samod with an ephemeral
//! `rejected` message (which samod hands to the document's `ephemera()` and otherwise
//! ignores), and samod keeps its connection.

use std::time::Duration;

use futures_util::StreamExt;
use zhichao_core::docs::Stage;

use crate::support::{
    Client, Server, case, has_all, heads, officer, our_id, push_case, record_stage, until_has,
    within,
};

/// The next ephemeral message samod received for a document, as text (our `rejected`
/// payload is a CBOR map of two text pairs).
async fn next_ephemeral(
    stream: &mut (impl futures_util::Stream<Item = Vec<u8>> + Unpin),
) -> String {
    let bytes = within("our rejected message", stream.next())
        .await
        .expect("ephemera stream open");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Waits until `server` has counted a refusal.
async fn until_refused(server: &Server) {
    within("our server refuses", async {
        while server.state.metrics.snapshot().refusals == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_without_write_rights_is_refused_and_samod_stays_connected() {
    let server = Server::start().await;
    let ticket = server.ticket(officer("officer:wang", "team-1")).await;
    let wang = Client::connect(&server, "samod-wang", &ticket).await;
    let (wang_handle, id) = push_case(&wang, &case(3, "officer:wang", "team-1")).await;
    let stored = server.stored_heads(id).expect("stored");

    // An officer of another team of the county reads the case (same scope) but may not
    // write it.
    let ticket = server.ticket(officer("officer:chen", "team-2")).await;
    let mut chen = Client::connect(&server, "samod-chen", &ticket).await;
    let chen_handle = chen.find(id).await.expect("chen may read the case");
    let mut ephemera = chen_handle.ephemera();
    record_stage(&chen_handle, "officer:chen", Stage::Registered);
    let rejected = next_ephemeral(&mut ephemera).await;
    assert!(rejected.contains("rejected"), "{rejected}");
    assert!(rejected.contains("no write rights"), "{rejected}");
    assert_eq!(
        server.stored_heads(id),
        Some(stored.clone()),
        "nothing stored"
    );
    chen.assert_still_connected().await;
    assert_eq!(
        server.stored_heads(id),
        Some(stored),
        "still nothing stored"
    );

    // The connection still carries sync: wang's edit reaches chen (whose own change stays
    // local), and is stored without chen's.
    record_stage(&wang_handle, "officer:wang", Stage::Registered);
    within(
        "our server acknowledges wang's edit",
        wang_handle.they_have_our_changes(wang.conn),
    )
    .await;
    let wang_heads = heads(&wang_handle);
    until_has(&chen_handle, &wang_heads).await;
    assert_eq!(server.stored_heads(id), Some(wang_heads));
    assert!(
        !has_all(&wang_handle, &heads(&chen_handle)),
        "chen's change never left our server"
    );
    chen.assert_still_connected().await;

    wang.stop().await;
    chen.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_samod_may_not_create_is_never_stored() {
    let server = Server::start().await;
    let ticket = server.ticket(officer("officer:wang", "team-1")).await;
    let mut wang = Client::connect(&server, "samod-wang", &ticket).await;
    // A case of another team, with wang as its creator. samod pushes it as soon as it is
    // created, so the refusal is watched on the server's counter (subscribing to the handle's
    // ephemera could come too late).
    let forged = case(4, "officer:wang", "team-2");
    let handle = within("samod create", wang.repo.create(forged.automerge().clone()))
        .await
        .expect("repo running");
    let id = our_id(handle.document_id());
    until_refused(&server).await;
    assert_eq!(server.stored_heads(id), None);
    wang.assert_still_connected().await;
    assert_eq!(server.stored_heads(id), None);
    assert_eq!(server.state.metrics.snapshot().connections_open, 1);

    wang.stop().await;
    server.stop().await;
}

/// samod drops an ephemeral message whose `(sessionId, count)` it has seen (it remembers every
/// session for the life of the repo, across connections). Our refusals must therefore come from
/// a session of their own after a server restart, or a phone that was refused before would not
/// hear of the next refusals. Two server instances stand for one server before and after a
/// restart: same peer id, fresh hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_still_reach_samod_after_a_server_restart() {
    let before = Server::start().await;
    let ticket = before.ticket(officer("officer:wang", "team-1")).await;
    let mut wang = Client::connect(&before, "samod-wang", &ticket).await;
    let (wang_handle, id) = push_case(&wang, &case(5, "officer:wang", "team-1")).await;
    let ticket = before.ticket(officer("officer:chen", "team-2")).await;
    let mut chen = Client::connect(&before, "samod-chen", &ticket).await;
    let chen_handle = chen.find(id).await.expect("chen may read the case");
    let mut ephemera = chen_handle.ephemera();
    record_stage(&chen_handle, "officer:chen", Stage::Registered);
    let rejected = next_ephemeral(&mut ephemera).await;
    assert!(rejected.contains("no write rights"), "{rejected}");

    // The restart. wang's samod pushes the case again (it syncs its open documents with every
    // new connection), then chen's pushes its refused change again.
    let after = Server::start().await;
    let ticket = after.ticket(officer("officer:wang", "team-1")).await;
    wang.redial(&after, &ticket).await;
    within(
        "the restarted server has the case again",
        wang_handle.they_have_our_changes(wang.conn),
    )
    .await;
    assert_eq!(after.stored_heads(id), Some(heads(&wang_handle)));
    let ticket = after.ticket(officer("officer:chen", "team-2")).await;
    chen.redial(&after, &ticket).await;
    until_refused(&after).await;
    let rejected = next_ephemeral(&mut ephemera).await;
    assert!(rejected.contains("no write rights"), "{rejected}");
    assert_eq!(after.stored_heads(id), Some(heads(&wang_handle)));

    wang.stop().await;
    chen.stop().await;
    before.stop().await;
    after.stop().await;
}
