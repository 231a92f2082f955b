//! zhichao-server: the sync server and the `zhichao` command line.
//!
//! For now the command line only: `zhichao classify` and `zhichao plate` (see [`cli`]).

pub mod cli;
