//! The `stance` binary: parses arguments, dispatches to a subcommand, and maps the outcome to an exit
//! code (0 success, 1 error, 2 usage, 3 some inputs failed). Errors print as one line.

mod cli;

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // candle's kernel-level threads spin-wait and collapse when the machine is busy, and small
        // models gain little from them: run kernels single-threaded and parallelise whole batches
        // instead (see `stance::classifier::workers`). No other thread exists yet, so this is sound.
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
