//! Progress on stderr for long work: an indicatif bar when stderr is a terminal, plain lines otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stance::train::{Epoch, Observer};

/// Draws training progress: epoch, step, loss, examples/s and ETA; one line of dev figures per epoch.
pub struct TrainProgress {
    bar: ProgressBar,
    epochs: usize,
    steps_per_epoch: usize,
    quiet: bool,
    /// When stderr is not a terminal: the last time a plain progress line was printed.
    last_line: std::time::Instant,
}

impl TrainProgress {
    pub fn new(quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self {
            bar,
            epochs: 0,
            steps_per_epoch: 0,
            quiet,
            last_line: std::time::Instant::now(),
        }
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// Without a terminal there is no bar: a plain line at most every minute shows that work goes on.
    fn heartbeat(&mut self, text: impl FnOnce() -> String) {
        if self.bar.is_hidden() && !self.quiet && self.last_line.elapsed().as_secs() >= 60 {
            self.last_line = std::time::Instant::now();
            eprintln!("{}", text());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for TrainProgress {
    fn start(&mut self, epochs: usize, steps_per_epoch: usize) {
        self.epochs = epochs;
        self.steps_per_epoch = steps_per_epoch;
        self.bar.set_length((epochs * steps_per_epoch) as u64);
        self.bar.set_position(0);
        self.bar.reset_eta();
    }

    fn labelled(&mut self, done: usize, total: usize) {
        self.bar.set_prefix("teacher");
        self.bar.set_message("statements labelled");
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        self.heartbeat(|| format!("teacher  {done}/{total} statements labelled"));
    }

    fn step(&mut self, epoch: usize, step: usize, loss: f64, eps: f64) {
        self.bar
            .set_prefix(format!("epoch {epoch}/{}", self.epochs));
        self.bar
            .set_message(format!("steps  loss {loss:.4}  {eps:.0} ex/s"));
        self.bar.inc(1);
        let (epochs, steps) = (self.epochs, self.steps_per_epoch);
        self.heartbeat(|| {
            format!("epoch {epoch}/{epochs}  step {step}/{steps}  loss {loss:.4}  {eps:.1} ex/s")
        });
    }

    fn epoch(&mut self, r: &Epoch, improved: bool) {
        self.line(&format!(
            "epoch {:>2}  loss {:.4}  dev acc {:.4}  macro-F1 {:.4}  ECE {:.4}  {:.1}s{}",
            r.epoch,
            r.train_loss,
            r.dev_accuracy,
            r.dev_macro_f1,
            r.dev_ece,
            r.seconds,
            if improved { "  *best" } else { "" }
        ));
    }

    fn note(&mut self, message: &str) {
        self.line(&format!("stance: {message}"));
    }
}
