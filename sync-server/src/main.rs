//! The `zhichao` command line; see `zhichao --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Unlocked handles: `zhichao serve` runs for hours and logs to standard error from worker
    // threads, which a lock held here would block forever.
    zhichao_server::cli::run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
}
