//! Messages for people on stderr; results go to stdout.

use std::io::Write;

pub(crate) struct Log {
    quiet: bool,
}

impl Log {
    pub(crate) fn new(quiet: bool) -> Self {
        Log { quiet }
    }

    pub(crate) fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Progress and notes; silent with `--quiet`.
    pub(crate) fn info(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{message}");
        }
    }

    pub(crate) fn warn(&self, message: &str) {
        let _ = writeln!(std::io::stderr(), "warning: {message}");
    }

    /// An error, then what it means for the run.
    pub(crate) fn error_with_note(&self, error: &anyhow::Error, note: &str) {
        self.error(error);
        let _ = writeln!(std::io::stderr(), "  note: {note}");
    }

    /// An error with its causes, printed once.
    pub(crate) fn error(&self, error: &anyhow::Error) {
        let mut text = format!("error: {error}");
        for cause in error.chain().skip(1) {
            let cause = cause.to_string();
            if !text.contains(&cause) {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
        }
        let _ = writeln!(std::io::stderr(), "{text}");
    }
}

/// Writes a command's result to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
