//! The `stance` binary: parses arguments, dispatches to a subcommand, and maps the outcome to an exit
//! code (0 success, 1 error, 2 usage, 3 some inputs failed). Errors print as one line.

mod cli;

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (libmimalloc-sys 0.1.49, pinned in Cargo.toml).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Keep freed memory instead of returning it to the OS after 10 ms: inference and training free and
    // reallocate the same large tensors at every step, and re-faulting fresh zeroed pages cost 15% of a
    // fine-tuning step. Peak memory is unchanged; it is just not handed back between batches.
    // SAFETY: sets a plain integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let args = cli::Cli::parse();
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // candle's kernel-level threads spin-wait and collapse when the machine is busy, and small
        // models gain little from them: run kernels single-threaded and parallelise whole batches
        // instead (see `stance::workers`). No other thread exists yet, so this is sound.
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
