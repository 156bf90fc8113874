//! A model directory in Hugging Face's layout: `config.json`, `model.safetensors`, `tokenizer.json` (and
//! `training.json` from `stance train`). Reading checks that the files exist and agree; writing is atomic:
//! everything goes to a temporary sibling directory that is then renamed into place.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::tokenizer::StanceTokenizer;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const CONFIG: &str = "config.json";
pub const WEIGHTS: &str = "model.safetensors";
pub const TOKENIZER: &str = "tokenizer.json";
pub const TRAINING: &str = "training.json";

/// Named weight tensors.
pub type Weights = HashMap<String, Tensor>;

/// The three files of a model, parsed.
pub struct ModelFiles {
    pub config: Config,
    pub weights: Weights,
    pub tokenizer: StanceTokenizer,
}

/// Reads and cross-checks a model directory.
pub fn read(dir: &Path) -> Result<ModelFiles> {
    if !dir.is_dir() {
        return Err(Error::file(dir, "model directory not found"));
    }
    for name in [CONFIG, WEIGHTS, TOKENIZER] {
        if !dir.join(name).is_file() {
            return Err(Error::file(dir, format!("model directory has no {name}")));
        }
    }
    let read =
        |name: &str| std::fs::read(dir.join(name)).map_err(|e| Error::io(dir.join(name), &e));
    from_bytes(&read(CONFIG)?, &read(WEIGHTS)?, &read(TOKENIZER)?, dir)
}

/// Parses the three files from memory; `dir` names them in errors.
pub fn from_bytes(
    config: &[u8],
    weights: &[u8],
    tokenizer: &[u8],
    dir: &Path,
) -> Result<ModelFiles> {
    let config = Config::from_slice(config, &dir.join(CONFIG))?;
    let tokenizer = StanceTokenizer::from_bytes(
        tokenizer,
        &dir.join(TOKENIZER),
        config.max_position_embeddings,
    )?;
    if tokenizer.vocab_size() != config.vocab_size {
        return Err(Error::file(
            dir.join(TOKENIZER),
            format!(
                "vocabulary has {} tokens but config.json says vocab_size {}",
                tokenizer.vocab_size(),
                config.vocab_size
            ),
        ));
    }
    let weights = weights_from_bytes(weights, &dir.join(WEIGHTS))?;
    Ok(ModelFiles {
        config,
        weights,
        tokenizer,
    })
}

/// Reads a safetensors file.
pub fn read_weights(path: &Path) -> Result<Weights> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    weights_from_bytes(&bytes, path)
}

fn weights_from_bytes(bytes: &[u8], path: &Path) -> Result<Weights> {
    candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| Error::file(path, format!("corrupt or truncated safetensors file ({e})")))
}

/// Writes a model directory atomically: files go to `DIR.tmp-PID`, which then replaces `dir`.
/// `extra` holds further (file name, contents) pairs such as `training.json`.
pub fn write(
    dir: &Path,
    config: &Config,
    weights: &Weights,
    tokenizer: &StanceTokenizer,
    extra: &[(&str, String)],
) -> Result<()> {
    let tmp = sibling(dir, "tmp");
    let io = |p: &Path, e: std::io::Error| Error::io(p, &e);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    let put = |name: &str, body: &[u8]| {
        std::fs::write(tmp.join(name), body).map_err(|e| io(&tmp.join(name), e))
    };
    put(CONFIG, config.to_json().as_bytes())?;
    put(TOKENIZER, tokenizer.to_json()?.as_bytes())?;
    candle_core::safetensors::save(weights, tmp.join(WEIGHTS))
        .map_err(|e| Error::file(tmp.join(WEIGHTS), e.to_string()))?;
    // The safetensors writer creates its file owner-only; give it the same (umask) permissions as the
    // other files, so a model directory can be shared.
    let perms = std::fs::metadata(tmp.join(CONFIG))
        .map_err(|e| io(&tmp.join(CONFIG), e))?
        .permissions();
    std::fs::set_permissions(tmp.join(WEIGHTS), perms).map_err(|e| io(&tmp.join(WEIGHTS), e))?;
    for (name, body) in extra {
        put(name, body.as_bytes())?;
    }
    replace_dir(&tmp, dir)
}

/// `DIR.KIND-PID` next to `dir`.
pub fn sibling(dir: &Path, kind: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    dir.with_file_name(format!("{name}.{kind}-{}", std::process::id()))
}

/// Moves the finished `tmp` directory to `dir`, replacing what was there only once `tmp` is complete.
fn replace_dir(tmp: &Path, dir: &Path) -> Result<()> {
    let io = |p: &Path, e: std::io::Error| Error::io(p, &e);
    if dir.exists() {
        let old = sibling(dir, "old");
        std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
        std::fs::rename(tmp, dir).map_err(|e| io(dir, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    } else {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::rename(tmp, dir).map_err(|e| io(dir, e))?;
    }
    Ok(())
}

/// Writes `contents` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_file_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = sibling(path, "tmp");
    std::fs::write(&tmp, contents).map_err(|e| Error::io(&tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, &e))
}
