//! The `roster` command: parses arguments and hands over to the library.

use clap::Parser;

/// mimalloc instead of the system allocator: a GraphQL response allocates many small
/// objects from many threads, and glibc's malloc spent about a third of the server's CPU
/// on a page of users (arena locks and consolidation, measured with `perf`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = roster::config::Cli::parse();
    roster::cli::init_logging(cli.config.log_format);
    match roster::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roster: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
