//! Command-line parsing and dispatch.

mod admin;
mod config;
mod demo;
mod golden;
mod plugin;
mod project;
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
    Serve(Box<serve::ServeArgs>),
    /// Check and run plugins locally.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Admin operations through a running server's API.
    Admin(admin::AdminArgs),
    /// Helpers for the demo of `provisio serve --demo`.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Compiles a component read on stdin into a precompiled artifact on
    /// stdout, under the given limits: the server's compiler child process.
    #[command(name = "__compile", hide = true)]
    Compile {
        /// The runtime's `max_memory_bytes` (it shapes the compiled code).
        #[arg(long)]
        max_memory_bytes: u64,
        /// The runtime's `max_wasm_stack_bytes`.
        #[arg(long)]
        max_wasm_stack_bytes: usize,
        /// CPU seconds the compile may use.
        #[arg(long)]
        cpu_seconds: u64,
        /// Address space the compile may map, in bytes.
        #[arg(long)]
        address_space_bytes: u64,
    },
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
    /// Run a plugin on a recorded principal with the production limits;
    /// record runs, or replay recordings as regression tests.
    Test(plugin::TestArgs),
    /// Make a plugin project (Rust, JavaScript or Python) with a working
    /// example, the WIT, a recorded principal and golden files.
    New(project::NewArgs),
    /// Build the plugin project in this directory into `dist/NAME.wasm`
    /// with its language's tool.
    Build,
}

/// Runs the parsed command and returns the process exit status.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Compile { max_memory_bytes, max_wasm_stack_bytes, cpu_seconds, address_space_bytes } = cli.command {
        let config = provisio::runtime::RuntimeConfig { max_memory_bytes, max_wasm_stack_bytes, ..Default::default() };
        return Ok(match provisio::runtime::run_compiler_child(&config, cpu_seconds, address_space_bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        });
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Plugin(PluginCommand::Check { file, json }) => rt.block_on(plugin::check(&file, json)),
        Command::Plugin(PluginCommand::Test(args)) => rt.block_on(plugin::test(args)),
        Command::Plugin(PluginCommand::New(args)) => project::new(args),
        Command::Plugin(PluginCommand::Build) => project::build(std::path::Path::new(".")),
        Command::Serve(args) => rt.block_on(serve::serve(*args)).map(|()| ExitCode::SUCCESS),
        Command::Demo(DemoCommand::Token(args)) => demo::token(args).map(|()| ExitCode::SUCCESS),
        Command::Admin(args) => {
            rt.block_on(admin::run(args)).map(|ok| if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Compile { .. } => Ok(ExitCode::FAILURE),
    }
}
