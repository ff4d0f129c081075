//! The product area an event belongs to.

/// How firewall event names start. The seed names firewall events `network_layer.firewall.*`
/// while their vertical is `firewall_layer`; this constant is the whole of that mapping.
const NETWORK_LAYER: &str = "network_layer";

string_enum! {
    /// The product area an event belongs to: the payload's `vertical` field, and (except for
    /// the firewall) the first segment of its event name.
    ///
    /// An open set: unknown verticals (for example a plugin namespace relayed under
    /// [`UnknownEvents::Relay`](crate::UnknownEvents::Relay)) are kept.
    ///
    /// ```
    /// use relay_core::Vertical;
    /// assert_eq!(Vertical::from("firewall_layer"), Vertical::FirewallLayer);
    /// assert_eq!(Vertical::from("network_layer"), Vertical::FirewallLayer);
    /// assert_eq!(Vertical::FirewallLayer.as_str(), "firewall_layer");
    /// assert_eq!(Vertical::FirewallLayer.name_prefix(), "network_layer");
    /// ```
    pub enum Vertical {
        /// `wpcore_layer`: WordPress core integrity (reinstall, check, permissions).
        WpcoreLayer = "wpcore_layer",
        /// `filesystem_layer`: scans, quarantine, whitelist, restore and delete of files.
        FilesystemLayer = "filesystem_layer",
        /// `application_layer`: plugins and vulnerability scans.
        ApplicationLayer = "application_layer",
        /// `firewall_layer`, also spelled `network_layer`, the prefix of its event names.
        FirewallLayer = "firewall_layer" | NETWORK_LAYER,
        /// `backup`: backups and restores.
        Backup = "backup",
        /// `operator`: assessments and operator actions.
        Operator = "operator",
    }
}

impl Vertical {
    /// The first segment of this vertical's event names: `network_layer` for the firewall,
    /// [`as_str`](Self::as_str) for every other vertical.
    pub fn name_prefix(&self) -> &str {
        match self {
            Vertical::FirewallLayer => NETWORK_LAYER,
            other => other.as_str(),
        }
    }
}
