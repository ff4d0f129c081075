//! The outcome a payload reports.

string_enum! {
    /// The payload's `status` field: the outcome the event reports.
    ///
    /// An open set: the values below are known, others are kept as received.
    pub enum Status {
        /// `success`.
        Success = "success",
        /// `failed`.
        Failed = "failed",
        /// `error`.
        Error = "error",
        /// `warning`.
        Warning = "warning",
        /// `info`.
        Info = "info",
        /// `pending`.
        Pending = "pending",
        /// `in_progress`.
        InProgress = "in_progress",
        /// `started`.
        Started = "started",
        /// `completed`.
        Completed = "completed",
    }
}

impl Status {
    /// The longest status accepted in a payload, in bytes.
    pub const MAX_LEN: usize = 64;
}
