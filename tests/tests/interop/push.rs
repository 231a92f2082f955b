//! samod → server: a samod client creates a real case and edits it; our server stores both.

use zhichao_core::docs::Stage;

use crate::support::{Client, Server, case, heads, officer, push_case, record_stage, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_created_by_samod_is_stored_by_our_server() {
    let server = Server::start().await;
    // The ticket as a browser gets it: POST /v1/sync/ticket with the officer's bearer token.
    let ticket = server
        .ticket_over_http(officer("officer:wang", "team-1"))
        .await;
    let wang = Client::connect(&server, "samod-wang", &ticket).await;

    let case = case(1, "officer:wang", "team-1");
    let (handle, id) = push_case(&wang, &case).await;
    assert_eq!(
        server.stored_heads(id),
        Some(case.automerge().get_heads()),
        "the store has what samod has"
    );
    assert_eq!(server.stored_case(id).body().unwrap(), case.body().unwrap());

    // An edit of the open document travels the same way.
    record_stage(&handle, "officer:wang", Stage::Registered);
    within(
        "our server acknowledges the edit",
        handle.they_have_our_changes(wang.conn),
    )
    .await;
    assert_eq!(server.stored_heads(id), Some(heads(&handle)));
    let stored = server.stored_case(id).body().unwrap();
    assert_eq!(stored.events.len(), 1);
    assert_eq!(stored.events[0].stage, Stage::Registered);
    assert!(server.state.metrics.snapshot().docs_synced >= 2);

    wang.stop().await;
    server.stop().await;
}
