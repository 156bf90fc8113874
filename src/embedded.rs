//! The shipped model (`models/stance-small`), embedded in the binary at build time by `build.rs` so that
//! `stance classify` works from any directory after `cargo install`.

use crate::classifier::Classifier;
use crate::error::Result;
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/embedded_model.rs"));

/// Loads the embedded model, or `None` when the build had no `models/stance-small`.
pub fn load() -> Option<Result<Classifier>> {
    EMBEDDED.map(|(config, weights, tokenizer)| {
        Classifier::from_bytes(
            config,
            weights,
            tokenizer,
            Path::new("<embedded stance-small>"),
        )
    })
}
