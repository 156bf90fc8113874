//! Which model a command uses: `--model DIR`, else `STANCE_MODEL`, else the model embedded in the binary.

use anyhow::{Context, Result, bail};
use stance::Classifier;
use std::path::PathBuf;

/// The `--model` flag shared by every command that runs a model.
#[derive(clap::Args, Debug)]
pub struct ModelArg {
    /// Model directory [default: the shipped model].
    #[arg(long, env = "STANCE_MODEL", value_name = "DIR")]
    model: Option<PathBuf>,
}

impl ModelArg {
    /// Loads the chosen model, or the embedded shipped model when none is given.
    pub fn load(&self) -> Result<Classifier> {
        match &self.model {
            Some(dir) => Ok(Classifier::load(dir)?),
            None => match stance::embedded::load() {
                Some(clf) => clf.context("loading the embedded model"),
                None => bail!(
                    "no model: this build has no shipped model; pass --model DIR or set STANCE_MODEL"
                ),
            },
        }
    }
}
