//! Asking the user yes/no questions, behind a trait so that `rm`'s prompting
//! logic can be tested with scripted answers.

use crate::console::Console;
use std::io::{self, BufRead, Write};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// When `rm` asks before removing, as in rm's `--interactive[=WHEN]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interactive {
    /// rm's default: ask only before removing a write-protected entry, and
    /// only when stdin is a terminal.
    #[default]
    WriteProtected,
    /// Never ask (`-f`, `--interactive=never`, also `no`, `none`).
    Never,
    /// Ask once before removing more than three paths or any recursively
    /// (`-I`, `--interactive=once`), and about write-protected entries.
    Once,
    /// Ask before every removal (`-i`, `--interactive=always`, `yes`).
    Always,
}

impl FromStr for Interactive {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "never" | "no" | "none" => Ok(Interactive::Never),
            "once" => Ok(Interactive::Once),
            "always" | "yes" => Ok(Interactive::Always),
            _ => Err(format!(
                "invalid argument '{s}' for --interactive: expected never, once or always"
            )),
        }
    }
}

/// Something that can answer yes/no questions.
pub trait Prompter: Sync {
    /// Ask `question`; true for yes.
    fn confirm(&self, question: &str) -> bool;
}

/// Whether a reply means yes: it starts with 'y' or 'Y', as rm reads it.
pub fn is_yes(reply: &str) -> bool {
    reply.trim_start().starts_with(['y', 'Y'])
}

/// Asks on stderr (with the progress display off meanwhile), reads the
/// answer line from stdin; end of input is "no". Nothing is locked while
/// the answer is awaited, so that a signal ends the program at once (see
/// the monitor), as it ends rm at its questions.
pub struct StdinPrompter {
    console: Arc<Console>,
    /// The walk's stop flag: once set, no more questions are asked.
    stop: Arc<AtomicBool>,
    lock: Mutex<()>,
}

impl StdinPrompter {
    /// Questions are printed as `prog: question? `, `prog` from the console.
    pub fn new(console: Arc<Console>, stop: Arc<AtomicBool>) -> Self {
        StdinPrompter {
            console,
            stop,
            lock: Mutex::new(()),
        }
    }
}

impl Prompter for StdinPrompter {
    fn confirm(&self, question: &str) -> bool {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let _asking = self.console.asking();
        // The monitor sets the stop flag before it looks for a question:
        // one of the two sees the other (both sequentially consistent).
        if self.stop.load(Ordering::SeqCst) {
            return false;
        }
        {
            let mut err = io::stderr().lock();
            let _ = write!(err, "{}: {question}? ", self.console.prog());
            let _ = err.flush();
        }
        let mut reply = String::new();
        match io::stdin().lock().read_line(&mut reply) {
            Ok(n) if n > 0 => is_yes(&reply),
            _ => false,
        }
    }
}

/// Answers from a script and records the questions (for tests).
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    answers: Mutex<std::collections::VecDeque<bool>>,
    asked: Mutex<Vec<String>>,
}

impl ScriptedPrompter {
    /// Reply with `answers` in order, then "no".
    pub fn new(answers: impl IntoIterator<Item = bool>) -> Self {
        ScriptedPrompter {
            answers: Mutex::new(answers.into_iter().collect()),
            asked: Mutex::new(Vec::new()),
        }
    }

    pub fn questions(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Prompter for ScriptedPrompter {
    fn confirm(&self, question: &str) -> bool {
        self.asked.lock().unwrap().push(question.to_string());
        self.answers.lock().unwrap().pop_front().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_when() {
        assert_eq!("never".parse(), Ok(Interactive::Never));
        assert_eq!("none".parse(), Ok(Interactive::Never));
        assert_eq!("once".parse(), Ok(Interactive::Once));
        assert_eq!("yes".parse(), Ok(Interactive::Always));
        assert!("sometimes".parse::<Interactive>().is_err());
    }

    #[test]
    fn reads_yes_like_rm() {
        assert!(is_yes("y\n"));
        assert!(is_yes("Yes"));
        assert!(!is_yes("n"));
        assert!(!is_yes(""));
        assert!(!is_yes("ok"));
    }
}
