//! kind's progress output: ` • Step ...` with a spinner while it runs, then ` ✓ Step (1.2s)` or
//! ` ✗ Step`. On a non-terminal the spinner is left out; `-q` silences everything.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Status {
    quiet: bool,
    tty: bool,
    current: Option<(String, Instant, Option<ProgressBar>)>,
}

impl Status {
    pub fn new(quiet: bool) -> Status {
        Status {
            quiet,
            tty: std::io::stderr().is_terminal(),
            current: None,
        }
    }

    /// A line of its own (e.g. `Creating cluster "kind" ...`).
    pub fn line(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// Starts a step, ending the previous one as successful.
    pub fn start(&mut self, step: &str) {
        self.end(true);
        if self.quiet {
            self.current = Some((step.to_string(), Instant::now(), None));
            return;
        }
        let bar = if self.tty {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(" {spinner} {msg}")
                    .expect("static template")
                    .tick_strings(&[
                        "⠈⠁", "⠈⠑", "⠈⠱", "⠈⡱", "⢀⡱", "⢄⡱", "⢄⡱", "⢆⡱", "⢎⡱", "⢎⡰", "⢎⡠", "⢎⡀",
                        "⢎⠁", "⠎⠁", "⠊⠁", "✓",
                    ]),
            );
            bar.set_message(step.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            Some(bar)
        } else {
            eprintln!(" • {step}  ...");
            None
        };
        self.current = Some((step.to_string(), Instant::now(), bar));
    }

    /// Ends the current step with ✓ (and its time) or ✗.
    pub fn end(&mut self, ok: bool) {
        let Some((step, started, bar)) = self.current.take() else {
            return;
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if self.quiet {
            return;
        }
        let mark = if ok { "✓" } else { "✗" };
        let elapsed = started.elapsed();
        eprintln!(" {mark} {step} ({})", human(elapsed));
        let _ = std::io::stderr().flush();
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        // A step still open when the status goes away did not finish.
        self.end(false);
    }
}

fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
