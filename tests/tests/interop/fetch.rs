//! server → samod: samod finds what our server stores, follows a teammate's edits, and gets
//! `None` where our server answers `doc-unavailable` (unknown id, or no right to read).

use rand::SeedableRng;
use rand::rngs::StdRng;
use zhichao_core::docs::{Case, Stage, TypedDoc};
use zhichao_core::ids::DocumentId;

use crate::support::{
    Client, Server, case, heads, officer, officer_elsewhere, our_id, push_case, record_stage,
    until_has, within,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samod_finds_a_stored_case_and_nothing_it_may_not_read() {
    let server = Server::start().await;
    let ticket = server.ticket(officer("officer:wang", "team-1")).await;
    let wang = Client::connect(&server, "samod-wang", &ticket).await;
    let case = case(2, "officer:wang", "team-1");
    let (wang_handle, id) = push_case(&wang, &case).await;

    // A teammate on another samod repo: `find` (after the handshake, so our server is a
    // peer to ask) gets the whole document.
    let ticket = server.ticket(officer("officer:li", "team-1")).await;
    let li = Client::connect(&server, "samod-li", &ticket).await;
    let li_handle = li.find(id).await.expect("our server has the case");
    assert_eq!(our_id(li_handle.document_id()), id);
    assert_eq!(heads(&li_handle), case.automerge().get_heads());
    let fetched = TypedDoc::<Case>::open(id, li_handle.with_document(|doc| doc.clone()));
    assert_eq!(fetched.unwrap().body().unwrap(), case.body().unwrap());

    // While li has it open, wang's edit reaches li through our server.
    record_stage(&wang_handle, "officer:wang", Stage::Registered);
    within(
        "our server acknowledges wang's edit",
        wang_handle.they_have_our_changes(wang.conn),
    )
    .await;
    until_has(&li_handle, &heads(&wang_handle)).await;
    assert_eq!(heads(&li_handle), heads(&wang_handle));

    // An id our server never saw: `doc-unavailable`, which samod turns into `None`.
    let unknown = DocumentId::generate(&mut StdRng::seed_from_u64(99));
    assert!(li.find(unknown).await.is_none());
    // li's connection is unaffected.
    assert!(li.dialer.is_connected());

    // An officer of another county may not read the case: exactly as if it did not exist.
    let ticket = server.ticket(officer_elsewhere("officer:zhou")).await;
    let zhou = Client::connect(&server, "samod-zhou", &ticket).await;
    assert!(zhou.find(id).await.is_none());

    wang.stop().await;
    li.stop().await;
    zhou.stop().await;
    server.stop().await;
}
