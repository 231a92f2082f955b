//! Integration tests of zhichao-server: one binary, one module per area.

mod alerts;
mod cli;
mod console_login;
mod import;
mod kill;
mod routes;
mod serve;
mod sync;
mod weighings;
