//! Command-line definitions (clap derive), one file per subcommand; each only parses, calls the library
//! and prints.

mod classify;
mod data;
mod distill;
mod eval;
mod model_arg;
mod output;
mod progress;
mod score;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Stance of news statements: condemnation, denial, assurance, threat or neutral.
///
/// Classify statements with the shipped model, score whole articles, evaluate a model on labelled data, or
/// train your own on JSONL/CSV/TSV files. Models are Hugging Face BERT directories (config.json,
/// model.safetensors, tokenizer.json).
#[derive(Parser, Debug)]
#[command(name = "stance", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Train(train::Args),
    Eval(eval::Args),
    Classify(classify::Args),
    Data(data::Args),
    Distill(distill::Args),
    Score(score::Args),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Classify(a) => classify::run(a),
        Command::Data(a) => data::run(a),
        Command::Distill(a) => distill::run(a),
        Command::Score(a) => score::run(a),
    }
}

/// Whether `err` comes from writing to a closed pipe (e.g. `stance classify | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
