//! The product's event taxonomy: origins, verticals, event names and payload validation.
//!
//! # What an event is
//!
//! The WordPress plugin (`wpsec`) and the WPFort backend post events to the relay, which
//! broadcasts them to the website's channel. An event has a dotted name
//! `vertical.subject.action` (for example `filesystem_layer.file_quarantine.completed`) and a
//! JSON payload whose shape depends on the vertical: `origin`, `vertical`, `status`, `message`
//! and typed optional fields such as `operation_id`, `started_at`, `check_status_endpoint` or
//! `metadata`.
//!
//! * [`EventName`] is the validated name; [`KnownEvent`] and [`ALL_EVENT_NAMES`] are the one
//!   catalog of every name the product uses.
//! * [`Origin`], [`Vertical`] and [`Status`] are open sets: unknown values are kept, not
//!   rejected.
//! * [`validate`] checks a payload given as borrowed raw JSON and returns an [`Event`] that still
//!   points at the bytes as received, so the caller broadcasts them unchanged.
//!   [`IngestRequest`] parses the whole `POST /api/events/create` body.
//! * [`EventPattern`] matches subscriber patterns (`*`, `vertical.*`, exact names).
//! * [`backup`] holds the backup webhook bodies and the builder of backup broadcasts.
//!
//! The firewall is the one vertical whose event names do not start with its own name: its
//! events are `network_layer.firewall.*` while payloads say `"vertical": "firewall_layer"`
//! (or `"network_layer"`). That mapping lives in [`Vertical`] and nowhere else.
//!
//! # Invariant: pure
//!
//! This crate does no I/O, reads no clock and uses no randomness. Everything it needs comes in
//! as arguments; everything it decides goes out as return values. Its dependencies (serde,
//! serde_json, thiserror, url) keep it that way: no runtime, no network, no database.
#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

#[macro_use]
mod string_enum;

pub mod backup;
mod catalog;
pub mod domain;
mod error;
mod event_name;
pub mod events;
mod ingest;
mod json;
mod origin;
mod path;
mod pattern;
mod payload;
mod status;
mod suggest;
mod timestamp;
mod vertical;

pub use crate::{
    catalog::{KnownEvent, ALL_EVENT_NAMES},
    domain::{Domain, DomainError},
    error::{EventNameError, Expected, JsonType, PatternError, PayloadError, UrlError},
    event_name::EventName,
    ingest::IngestRequest,
    origin::Origin,
    path::Path,
    pattern::{EventPattern, PatternKind},
    payload::{validate, Event, UnknownEvents, UnknownEventsError},
    status::Status,
    string_enum::PrivOwnedStr,
    suggest::{edit_distance, suggestions},
    timestamp::{Timestamp, TimestampError},
    vertical::Vertical,
};

/// The result of this crate's fallible operations; the error defaults to [`PayloadError`].
pub type Result<T, E = PayloadError> = std::result::Result<T, E>;

/// The vertical of an event name: the catalog's for a known name, the one implied by the
/// first segment for any other syntactically valid name, `None` for an invalid name.
///
/// `vertical_of("network_layer.firewall.toggled.on")` is [`Vertical::FirewallLayer`].
pub fn vertical_of(name: &str) -> Option<Vertical> {
    EventName::try_from(name).ok().map(|n| n.vertical())
}
