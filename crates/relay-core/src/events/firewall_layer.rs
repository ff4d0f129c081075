//! `firewall_layer`: the web application firewall.
//!
//! Events are named `network_layer.firewall.*`: `attacks.blocked`, `blacklist.updated`,
//! `whitelist.updated`, `toggled.on`, `toggled.off`. A payload's `vertical` may say
//! `firewall_layer` or `network_layer`.

use std::borrow::Cow;

use crate::{events::Extra, json::Fields, Result, Timestamp};

/// The `metadata` of a `firewall_layer` payload.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Metadata<'a> {
    /// `attack_type`, such as `SQL Injection`.
    pub attack_type: Option<Cow<'a, str>>,
    /// `attack_source`, usually an IP address (not checked: it may be a host name).
    pub attack_source: Option<Cow<'a, str>>,
    /// `attack_target`: the path attacked.
    pub attack_target: Option<Cow<'a, str>>,
    /// `attack_time`.
    pub attack_time: Option<Timestamp>,
    /// Every other field, as received.
    pub extra: Extra<'a>,
}

impl<'a> Metadata<'a> {
    pub(crate) fn decode(fields: &Fields<'a>) -> Result<Self> {
        Ok(Metadata {
            attack_type: fields.optional_str("attack_type")?,
            attack_source: fields.optional_str("attack_source")?,
            attack_target: fields.optional_str("attack_target")?,
            attack_time: fields.optional_timestamp("attack_time")?,
            extra: fields.extra(&[
                "attack_type",
                "attack_source",
                "attack_target",
                "attack_time",
            ]),
        })
    }
}
