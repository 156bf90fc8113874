//! Which model a command uses: `--model DIR`, else `STANCE_MODEL`, else the model embedded in the binary.

use anyhow::{Context, Result, bail};
use stance::Classifier;
use std::path::PathBuf;

/// Loads the model named by `dir`, or the embedded shipped model when `dir` is `None`.
pub fn load(dir: Option<&PathBuf>) -> Result<Classifier> {
    match dir {
        Some(dir) => Ok(Classifier::load(dir)?),
        None => match stance::embedded::load() {
            Some(clf) => clf.context("loading the embedded model"),
            None => bail!(
                "no model: this build has no shipped model; pass --model DIR or set STANCE_MODEL"
            ),
        },
    }
}
