//! Integration tests of zhichao-server: one binary, one module per area.

mod alerts;
mod cli;
mod console_alerts;
mod console_breaker;
mod console_cases;
mod console_headers;
mod console_login;
mod console_notices;
mod import;
mod kill;
mod routes;
mod serve;
mod sync;
mod weighings;
