//! `operator`: assessments and operator actions.
//!
//! Events: `operator.assessment.{started,completed,failed}`,
//! `operator.action.{started,completed,failed}`.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::{events::Extra, json::Fields, Result, Timestamp};

/// The `metadata` of an `operator` payload.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Metadata<'a> {
    /// `assessment_id`.
    pub assessment_id: Option<Cow<'a, str>>,
    /// `assessment_time`.
    pub assessment_time: Option<Timestamp>,
    /// The nested `metadata` object, as received.
    pub metadata: Option<&'a RawValue>,
    /// Every other field, as received.
    pub extra: Extra<'a>,
}

impl<'a> Metadata<'a> {
    pub(crate) fn decode(fields: &Fields<'a>) -> Result<Self> {
        let metadata = fields.optional_object("metadata")?.map(|m| m.as_raw());
        Ok(Metadata {
            assessment_id: fields.optional_str("assessment_id")?,
            assessment_time: fields.optional_timestamp("assessment_time")?,
            metadata,
            extra: fields.extra(&["assessment_id", "assessment_time", "metadata"]),
        })
    }
}
