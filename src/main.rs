//! The `stance` binary: parses arguments, dispatches to a subcommand, and maps the outcome to an exit
//! code (0 success, 1 error, 2 usage, 3 some inputs failed). Errors print as one line.

mod cli;

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // Single-threaded kernels with one worker per core, and an allocator that keeps its memory.
    // SAFETY: no other thread exists yet.
    unsafe { stance::workers::init_process() };
    match cli::run(args) {
        Ok(code) => code,
        Err(err) if cli::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stance: {err:#}");
            ExitCode::from(1)
        }
    }
}
