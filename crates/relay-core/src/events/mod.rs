//! Payload data structures: the fields every vertical shares, and typed `metadata` per
//! vertical.
//!
//! Seed 000 gives one data structure per vertical, not per event, so the typed views live here
//! by vertical: [`Payload`] holds the shared fields, [`Metadata`] the vertical's `metadata`.
//! `wpcore_layer` and `filesystem_layer` events carry operation fields (`operation_id`,
//! `started_at`, `check_status_endpoint`, `version`) and no typed metadata.
//!
//! Every field is optional except `origin`, `vertical`, `status` and `message`; `null` counts
//! as absent. Unknown fields are allowed and kept in `extra`.

use std::borrow::Cow;

use serde_json::value::RawValue;
use url::Url;

use crate::{
    error::excerpt, json::Fields, EventName, Origin, PayloadError, Result, Status, Timestamp,
    Vertical,
};

pub use crate::json::Extra;

pub mod application_layer;
pub mod backup;
pub mod firewall_layer;
pub mod operator;

/// The longest `operation_id` or `version` accepted, in bytes.
pub const MAX_ID_LEN: usize = 256;

/// A validated event payload, borrowing from the JSON text it was read from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Payload<'a> {
    /// `origin`: who produced the event.
    pub origin: Origin,
    /// `vertical`, as sent (`firewall_layer` and `network_layer` are both
    /// [`Vertical::FirewallLayer`]); always the event's vertical.
    pub vertical: Vertical,
    /// `status`: the outcome reported.
    pub status: Status,
    /// `message`: human-readable text.
    pub message: Cow<'a, str>,
    /// `operation_id`: the plugin's id of a long-running operation.
    pub operation_id: Option<Cow<'a, str>>,
    /// `version`: for example the WordPress version a reinstall targets (`current`).
    pub version: Option<Cow<'a, str>>,
    /// `started_at`: when the operation started.
    pub started_at: Option<Timestamp>,
    /// `check_status_endpoint`: where to poll the operation, an absolute http(s) URL.
    pub check_status_endpoint: Option<Url>,
    /// `metadata`, typed for the verticals that define it.
    pub metadata: Option<Metadata<'a>>,
    /// Every other field, as received.
    pub extra: Extra<'a>,
}

/// The `metadata` object of a payload, typed by vertical.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Metadata<'a> {
    /// `application_layer`.
    Application(application_layer::Metadata<'a>),
    /// `firewall_layer`.
    Firewall(firewall_layer::Metadata<'a>),
    /// `backup`.
    Backup(backup::Metadata<'a>),
    /// `operator`.
    Operator(operator::Metadata<'a>),
    /// Other verticals: any object, as received.
    Object(&'a RawValue),
}

const SHARED_FIELDS: &[&str] = &[
    "origin",
    "vertical",
    "status",
    "message",
    "operation_id",
    "version",
    "started_at",
    "check_status_endpoint",
    "metadata",
];

impl<'a> Payload<'a> {
    /// Decodes the payload object `fields` of event `event`, whose vertical it must state.
    pub(crate) fn decode(fields: &Fields<'a>, event: &EventName) -> Result<Self> {
        let origin = Origin::from(&*fields.required_text("origin", Origin::MAX_LEN)?);
        let vertical_text = fields.required_str("vertical")?;
        let vertical = Vertical::from(&*vertical_text);
        let expected = event.vertical();
        if vertical != expected {
            return Err(PayloadError::VerticalMismatch {
                path: fields.path_of("vertical"),
                event: event.clone(),
                expected,
                found: excerpt(&vertical_text),
            });
        }
        let status = Status::from(&*fields.required_text("status", Status::MAX_LEN)?);
        let message = fields.required_str("message")?;
        let operation_id = fields.optional_text("operation_id", MAX_ID_LEN)?;
        let version = fields.optional_text("version", MAX_ID_LEN)?;
        let started_at = fields.optional_timestamp("started_at")?;
        let check_status_endpoint = fields.optional_url("check_status_endpoint")?;
        let metadata = match fields.optional_object("metadata")? {
            None => None,
            Some(meta) => Some(Metadata::decode(&vertical, &meta)?),
        };
        Ok(Payload {
            origin,
            vertical,
            status,
            message,
            operation_id,
            version,
            started_at,
            check_status_endpoint,
            metadata,
            extra: fields.extra(SHARED_FIELDS),
        })
    }
}

impl<'a> Metadata<'a> {
    fn decode(vertical: &Vertical, fields: &Fields<'a>) -> Result<Self> {
        Ok(match vertical {
            Vertical::ApplicationLayer => {
                Metadata::Application(application_layer::Metadata::decode(fields)?)
            }
            Vertical::FirewallLayer => {
                Metadata::Firewall(firewall_layer::Metadata::decode(fields)?)
            }
            Vertical::Backup => Metadata::Backup(backup::Metadata::decode(fields)?),
            Vertical::Operator => Metadata::Operator(operator::Metadata::decode(fields)?),
            _ => Metadata::Object(fields.as_raw()),
        })
    }
}
