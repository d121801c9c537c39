//! `curwatch`: thin glue over the curwatch libraries.

mod args;
mod commands;
mod config;
mod exit;
mod lock;
mod log;
mod progress;

use clap::Parser;

fn main() {
    let cli = args::Cli::parse();
    let log = log::Log::new(cli.quiet);
    let status = match commands::dispatch(cli, &log) {
        Ok(status) => status,
        Err(error) => {
            log.error(&error);
            exit::ExitStatus::Failure
        }
    };
    std::process::exit(status.code());
}
