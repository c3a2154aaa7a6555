//! Command-line parsing and dispatch.

mod admin;
mod config;
mod demo;
mod plugin;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status for a usage or input error (a file that cannot be read, bad JSON).
pub const EXIT_USAGE: u8 = 64;

/// Provisio: authenticates users and provisions their accounts just in time
/// with sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "provisio", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (SQLite `./provisio.db` by default).
    Serve(serve::ServeArgs),
    /// Check and run plugins locally.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Admin operations through a running server's API.
    Admin(admin::AdminArgs),
    /// Helpers for the demo of `provisio serve --demo`.
    #[command(subcommand)]
    Demo(DemoCommand),
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Print an ID token from the demo identity provider.
    Token(demo::TokenArgs),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Check a component against the plugin contract, as an upload would.
    Check {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a plugin on a recorded principal with the production limits.
    Test(plugin::TestArgs),
}

/// Runs the parsed command and returns the process exit status.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Plugin(PluginCommand::Check { file, json }) => rt.block_on(plugin::check(&file, json)),
        Command::Plugin(PluginCommand::Test(args)) => rt.block_on(plugin::test(args)),
        Command::Serve(args) => rt.block_on(serve::serve(args)).map(|()| ExitCode::SUCCESS),
        Command::Demo(DemoCommand::Token(args)) => demo::token(args).map(|()| ExitCode::SUCCESS),
        Command::Admin(args) => {
            rt.block_on(admin::run(args)).map(|ok| if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
