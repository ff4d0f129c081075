//! `backup`: backups and restores.
//!
//! Events: `backup.backup.{started,progress,completed,failed}`,
//! `backup.restore.{started,completed,failed}`. The relay builds the `backup.backup.*`
//! broadcasts itself from the backup webhooks: see [`crate::backup`].

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::{events::Extra, json::Fields, Result, Timestamp};

/// The `metadata` of a `backup` payload.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Metadata<'a> {
    /// `backup_id`.
    pub backup_id: Option<Cow<'a, str>>,
    /// `backup_type`, such as `full`.
    pub backup_type: Option<Cow<'a, str>>,
    /// `backup_size`: a string such as `100MB` or a number, as received.
    pub backup_size: Option<&'a RawValue>,
    /// `backup_time`.
    pub backup_time: Option<Timestamp>,
    /// `progress`, a percentage in 0..=100.
    pub progress: Option<f64>,
    /// `status`: the backup's own status (`pending`, `in_progress`, `completed`, `failed`).
    pub status: Option<Cow<'a, str>>,
    /// `error_message`.
    pub error_message: Option<Cow<'a, str>>,
    /// Every other field, as received.
    pub extra: Extra<'a>,
}

impl<'a> Metadata<'a> {
    pub(crate) fn decode(fields: &Fields<'a>) -> Result<Self> {
        Ok(Metadata {
            backup_id: fields.optional_str("backup_id")?,
            backup_type: fields.optional_str("backup_type")?,
            backup_size: fields.optional_string_or_number("backup_size")?,
            backup_time: fields.optional_timestamp("backup_time")?,
            progress: fields.optional_number_in("progress", 0.0, 100.0)?,
            status: fields.optional_str("status")?,
            error_message: fields.optional_str("error_message")?,
            extra: fields.extra(&[
                "backup_id",
                "backup_type",
                "backup_size",
                "backup_time",
                "progress",
                "status",
                "error_message",
            ]),
        })
    }
}
