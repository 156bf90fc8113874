//! The `stance` binary: parses arguments, dispatches to a subcommand, and maps the outcome to an exit
//! code (0 success, 1 error, 2 usage, 3 some inputs failed). Errors print as one line.

mod cli;

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    if args.is_inference() && std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // Small models classify fastest with one single-threaded forward pass per core (see
        // `stance::classifier::workers`). No other thread exists yet, so changing the environment is sound.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(err) if cli::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stance: {err:#}");
            ExitCode::from(1)
        }
    }
}
