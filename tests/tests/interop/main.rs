//! Interop: samod 0.16 (the Rust automerge-repo) as a client of our sync server.
//!
//! Each test starts the server in-process on 127.0.0.1:0 and connects stock samod repos to
//! `/v1/sync` with `Repo::dial_websocket`. samod cannot set headers on the upgrade, so every
//! client authenticates with a one-time `?ticket=`, as a browser running automerge-repo does.
//! Nothing in samod is patched or configured beyond its peer id and its backoff (a few quick
//! retries for samod's own first-dial race, see `support::dial`; a spent ticket cannot
//! reconnect, so a dropped connection shows as a failure).
//!
//! - [`push`]: samod creates a real zhichao case and edits it; the server stores both.
//! - [`fetch`]: samod finds a stored case, follows a teammate's edit, and gets `None` for an
//!   unknown id and for a case it may not read.
//! - [`refusal`]: samod writes where it may not; nothing is stored, samod is told with an
//!   ephemeral `rejected` message and keeps its connection, also after a server restart.
//!
//! Every wait is bounded by [`support::WAIT`]: a regression fails, it never hangs CI.

mod fetch;
mod push;
mod refusal;
mod support;
