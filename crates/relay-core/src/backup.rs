//! Backup webhooks (seed 001) and the `backup.backup.*` broadcasts they trigger.
//!
//! The plugin posts to `/webhooks/backup-progress`, `/backup-complete` and `/backup-failed`;
//! [`ProgressRequest`], [`CompleteRequest`] and [`FailedRequest`] parse those bodies. Each
//! gives an [`Update`], which names the event to broadcast and builds its payload in seed 000's
//! backup data structure:
//!
//! ```json
//! {"origin":"wpfort_server","vertical":"backup","status":"success","message":"Backup in progress (46%)",
//!  "metadata":{"backup_id":"backup_123456789","progress":46,"status":"in_progress"}}
//! ```

use std::{borrow::Cow, fmt};

use serde::Serialize;

use crate::{
    error::excerpt, json::Fields, KnownEvent, Origin, Path, PayloadError, Result, Vertical,
};

/// The longest `backup_id` accepted, in bytes.
pub const MAX_BACKUP_ID_LEN: usize = 256;

/// The longest `domain` accepted, in bytes.
pub const MAX_DOMAIN_LEN: usize = 2048;

/// The state of a backup: a closed set.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Status {
    /// `pending`: queued, not started.
    Pending,
    /// `in_progress`: running.
    InProgress,
    /// `completed`: done (progress 100).
    Completed,
    /// `failed`: stopped with an error.
    Failed,
}

impl Status {
    /// The statuses a progress webhook may send.
    pub const PROGRESS_VALUES: &'static [&'static str] = &["pending", "in_progress"];

    /// `pending`, `in_progress`, `completed` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    /// The status named `s`, if any.
    pub fn from_name(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "in_progress" => Some(Status::InProgress),
            "completed" => Some(Status::Completed),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A progress percentage: an integer in 0..=100.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Percent(u8);

impl Percent {
    /// 0 %.
    pub const ZERO: Percent = Percent(0);
    /// 100 %.
    pub const COMPLETE: Percent = Percent(100);

    /// `value`, if it is at most 100.
    pub fn new(value: u8) -> Option<Percent> {
        (value <= 100).then_some(Percent(value))
    }

    /// `value` rounded to the nearest integer (halves away from zero) and clamped to 0..=100,
    /// as seed 001 asks: `45.7` → 46, `-3` → 0, `250` → 100.
    pub fn from_f64(value: f64) -> Percent {
        let rounded = value.round();
        if rounded.is_nan() || rounded <= 0.0 {
            Percent::ZERO
        } else if rounded >= 100.0 {
            Percent::COMPLETE
        } else {
            // The value is an integer in 1..=99 here, so the cast is exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Percent(rounded as u8)
        }
    }

    /// The percentage.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// The fields every backup webhook has.
fn site_and_backup<'a>(fields: &Fields<'a>) -> Result<(Cow<'a, str>, Cow<'a, str>)> {
    Ok((
        fields.required_text("domain", MAX_DOMAIN_LEN)?,
        fields.required_text("backup_id", MAX_BACKUP_ID_LEN)?,
    ))
}

/// The body of `POST /webhooks/backup-progress`.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct ProgressRequest<'a> {
    /// `domain` (required): the website.
    pub domain: Cow<'a, str>,
    /// `backup_id` (required): the plugin's backup identifier.
    pub backup_id: Cow<'a, str>,
    /// `status` (optional): [`Status::Pending`] or [`Status::InProgress`].
    pub status: Option<Status>,
    /// `progress` (optional): rounded and clamped to 0..=100.
    pub progress: Option<Percent>,
}

impl<'a> ProgressRequest<'a> {
    /// Parses the body. Other fields are ignored; `null` counts as absent.
    pub fn parse(body: &'a str) -> Result<Self> {
        let fields = Fields::parse(body, Path::root())?;
        let (domain, backup_id) = site_and_backup(&fields)?;
        let status = match fields.optional_str("status")? {
            None => None,
            Some(s) => match Status::from_name(&s) {
                Some(status @ (Status::Pending | Status::InProgress)) => Some(status),
                _ => {
                    return Err(PayloadError::InvalidValue {
                        path: fields.path_of("status"),
                        found: excerpt(&s),
                        expected: Status::PROGRESS_VALUES,
                    })
                }
            },
        };
        let progress = fields.optional_number("progress")?.map(Percent::from_f64);
        Ok(ProgressRequest {
            domain,
            backup_id,
            status,
            progress,
        })
    }

    /// The update to record and broadcast: the status defaults to `in_progress`, the progress
    /// to `previous` (the last one recorded, or [`Percent::ZERO`]).
    pub fn update(&self, previous: Percent) -> Update<'_> {
        Update {
            backup_id: &self.backup_id,
            status: self.status.unwrap_or(Status::InProgress),
            progress: self.progress.unwrap_or(previous),
            error_message: None,
        }
    }
}

/// The body of `POST /webhooks/backup-complete`.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct CompleteRequest<'a> {
    /// `domain` (required): the website.
    pub domain: Cow<'a, str>,
    /// `backup_id` (required): the plugin's backup identifier.
    pub backup_id: Cow<'a, str>,
}

impl<'a> CompleteRequest<'a> {
    /// Parses the body. Other fields are ignored.
    pub fn parse(body: &'a str) -> Result<Self> {
        let fields = Fields::parse(body, Path::root())?;
        let (domain, backup_id) = site_and_backup(&fields)?;
        Ok(CompleteRequest { domain, backup_id })
    }

    /// The update to record and broadcast: completed, progress 100.
    pub fn update(&self) -> Update<'_> {
        Update {
            backup_id: &self.backup_id,
            status: Status::Completed,
            progress: Percent::COMPLETE,
            error_message: None,
        }
    }
}

/// The body of `POST /webhooks/backup-failed`.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct FailedRequest<'a> {
    /// `domain` (required): the website.
    pub domain: Cow<'a, str>,
    /// `backup_id` (required): the plugin's backup identifier.
    pub backup_id: Cow<'a, str>,
    /// `error_message` (optional): what went wrong.
    pub error_message: Option<Cow<'a, str>>,
}

impl<'a> FailedRequest<'a> {
    /// Parses the body. Other fields are ignored; `null` counts as absent.
    pub fn parse(body: &'a str) -> Result<Self> {
        let fields = Fields::parse(body, Path::root())?;
        let (domain, backup_id) = site_and_backup(&fields)?;
        let error_message = fields.optional_str("error_message")?;
        Ok(FailedRequest {
            domain,
            backup_id,
            error_message,
        })
    }

    /// The update to record and broadcast: failed, at `progress` (the last one recorded).
    pub fn update(&self, progress: Percent) -> Update<'_> {
        Update {
            backup_id: &self.backup_id,
            status: Status::Failed,
            progress,
            error_message: self.error_message.as_deref(),
        }
    }
}

/// A change of a backup's state, and the broadcast announcing it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Update<'a> {
    /// The plugin's backup identifier.
    pub backup_id: &'a str,
    /// The new status.
    pub status: Status,
    /// The progress.
    pub progress: Percent,
    /// The error, for a failed backup.
    pub error_message: Option<&'a str>,
}

#[derive(Serialize)]
struct BroadcastData<'a> {
    origin: &'a str,
    vertical: &'a str,
    status: &'a str,
    message: &'a str,
    metadata: BroadcastMetadata<'a>,
}

#[derive(Serialize)]
struct BroadcastMetadata<'a> {
    backup_id: &'a str,
    progress: u8,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

impl Update<'_> {
    /// The event to broadcast: `backup.backup.progress` while pending or in progress,
    /// `backup.backup.completed`, or `backup.backup.failed`.
    pub fn event(&self) -> KnownEvent {
        match self.status {
            Status::Pending | Status::InProgress => KnownEvent::BackupProgress,
            Status::Completed => KnownEvent::BackupCompleted,
            Status::Failed => KnownEvent::BackupFailed,
        }
    }

    /// The human-readable `message` of the broadcast.
    pub fn message(&self) -> String {
        match (self.status, self.error_message) {
            (Status::Pending, _) => "Backup pending".to_owned(),
            (Status::InProgress, _) => format!("Backup in progress ({})", self.progress),
            (Status::Completed, _) => "Backup completed".to_owned(),
            (Status::Failed, Some(error)) if !error.trim().is_empty() => {
                format!("Backup failed: {error}")
            }
            (Status::Failed, _) => "Backup failed".to_owned(),
        }
    }

    /// The broadcast payload, JSON text in seed 000's backup data structure:
    /// `{"origin":"wpfort_server","vertical":"backup","status":"success"|"failed","message":...,
    /// "metadata":{"backup_id","progress","status","error_message"?}}`.
    pub fn data(&self) -> String {
        let message = self.message();
        let data = BroadcastData {
            origin: Origin::WpfortServer.as_str(),
            vertical: Vertical::Backup.as_str(),
            status: if self.status == Status::Failed {
                "failed"
            } else {
                "success"
            },
            message: &message,
            metadata: BroadcastMetadata {
                backup_id: self.backup_id,
                progress: self.progress.get(),
                status: self.status.as_str(),
                error_message: self.error_message,
            },
        };
        // unwrap: a struct of strings and an integer always serializes.
        serde_json::to_string(&data).expect("serializing strings and integers cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_and_clamps() {
        let cases = [
            (45.7, 46),
            (45.5, 46),
            (45.4, 45),
            (0.4, 0),
            (-3.0, 0),
            (99.5, 100),
            (250.0, 100),
            (f64::MAX, 100),
            (f64::MIN, 0),
        ];
        for (value, expected) in cases {
            assert_eq!(Percent::from_f64(value).get(), expected, "{value}");
        }
        assert_eq!(Percent::new(101), None);
        assert_eq!(Percent::new(100), Some(Percent::COMPLETE));
    }
}
