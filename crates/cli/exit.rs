//! Process exit codes (documented in docs/user-guide.md).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    /// Everything asked was done.
    Success,
    /// Something failed: bad input, an unreadable store, a partial ingest.
    Failure,
    /// The configuration file is missing, malformed or invalid (`run`, `config check`).
    BadConfig,
    /// Another run holds the store's lock and did not finish in time.
    Busy,
}

impl ExitStatus {
    pub(crate) fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::BadConfig => 2,
            ExitStatus::Busy => 3,
        }
    }
}
