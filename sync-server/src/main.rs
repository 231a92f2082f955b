//! The `zhichao` command line; see `zhichao --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    zhichao_server::cli::run(
        std::env::args_os(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}
