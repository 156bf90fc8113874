//! The library's typed error: every failure a user can cause names the file (and line, where there is one)
//! and says what is wrong in one line.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, with enough context to print a one-line message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem in a data file at a given (1-based) line.
    #[error("{}:{line}: {msg}", path.display())]
    Data {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    /// A problem with a file as a whole (missing, unreadable, corrupt, inconsistent).
    #[error("{}: {msg}", path.display())]
    File { path: PathBuf, msg: String },
    /// Invalid settings or arguments.
    #[error("{0}")]
    Invalid(String),
    /// A tensor operation failed (a bug or an inconsistent model rather than bad input).
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    /// The tokenizer failed on an input.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

impl Error {
    /// A data error at `path:line`.
    pub fn data(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            line,
            msg: msg.into(),
        }
    }

    /// An error about a whole file.
    pub fn file(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// An I/O error on `path`, phrased for people ("No such file or directory").
    pub fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        let msg = match err.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => err.to_string(),
        };
        Error::file(path, msg)
    }
}
