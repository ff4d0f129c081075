//! `application_layer`: plugins and vulnerability scans.
//!
//! Events: `application_layer.plugins.update.{started,completed,failed}`,
//! `application_layer.plugins.{activated,deactivated}`,
//! `application_layer.vulnerabilities_scan.{started,completed,failed}`.

use std::borrow::Cow;

use crate::{events::Extra, json::Fields, Result};

/// The `metadata` of an `application_layer` payload.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Metadata<'a> {
    /// `plugin_name`.
    pub plugin_name: Option<Cow<'a, str>>,
    /// `plugin_version`.
    pub plugin_version: Option<Cow<'a, str>>,
    /// `plugin_status`, such as `active`.
    pub plugin_status: Option<Cow<'a, str>>,
    /// Every other field, as received.
    pub extra: Extra<'a>,
}

impl<'a> Metadata<'a> {
    pub(crate) fn decode(fields: &Fields<'a>) -> Result<Self> {
        Ok(Metadata {
            plugin_name: fields.optional_str("plugin_name")?,
            plugin_version: fields.optional_str("plugin_version")?,
            plugin_status: fields.optional_str("plugin_status")?,
            extra: fields.extra(&["plugin_name", "plugin_version", "plugin_status"]),
        })
    }
}
