//! `stance`: what the speaker of each statement in news text is doing — condemnation, denial,
//! assurance, threat, or neutral — on an ordinary CPU.
//!
//! The pipeline:
//! - [`data`] reads labelled statements (JSONL, CSV, TSV);
//! - [`tokenizer`] turns text into WordPiece ids (`tokenizer.json`, trainable);
//! - [`model`] is a BERT encoder with a classification head, built from a [`config::Config`] with
//!   Hugging Face's weight names, so models open in `transformers` and BERT checkpoints load here;
//!   its layers ([`ops`], [`gelu`]) take a differentiable path in training and fused kernels at
//!   inference;
//! - [`train`] fits it (AdamW, warm-up and decay, dropout, clipping, an [`ema`] of the weights if
//!   asked, early stopping on dev macro-F1);
//! - [`distill`] trains a small student on a teacher's soft labels ([`augment`]ed copies, a
//!   [`teacher_cache`] on disk, [`word_vectors`] from a pretrained encoder to start from, and a
//!   [`projection`] to match the teacher's statement vectors);
//! - [`metrics`] scores predictions (accuracy, per-class P/R/F1, macro-F1, confusion, calibration),
//!   and [`bootstrap`] says how far those figures can be trusted (intervals, paired comparisons);
//! - [`classifier`] loads a model directory and classifies statements in batches;
//! - [`segment`] splits articles into statements with byte offsets, and [`score`] classifies them.
//!
//! ```no_run
//! use stance::classifier::Classifier;
//! let clf = Classifier::load(std::path::Path::new("models/stance-small"))?;
//! let out = clf.predict(&["The ministry denied any role in the attack."], 32)?;
//! println!("{}", clf.labels()[out.items[0].index]);
//! # Ok::<(), stance::Error>(())
//! ```

pub mod augment;
pub mod bootstrap;
pub mod classifier;
pub mod config;
pub mod data;
pub mod datacheck;
pub mod distill;
pub mod dropout;
pub mod ema;
pub mod embedded;
pub mod error;
pub mod gelu;
pub mod metrics;
pub mod model;
pub mod model_dir;
pub mod ops;
pub mod optim;
pub mod projection;
pub mod score;
pub mod segment;
pub mod teacher_cache;
pub mod tokenizer;
pub mod train;
pub mod vocab;
pub mod word_vectors;
pub mod workers;

pub use classifier::{Classifier, Prediction};
pub use error::{Error, Result};
