//! The one catalog of event names.
//!
//! Every event name the product emits is listed once, in [`event_catalog!`]; the enum
//! [`KnownEvent`], the name ↔ variant mapping and [`ALL_EVENT_NAMES`] are generated from that
//! list. A name's vertical is not listed: it follows from the name's first segment through
//! [`Vertical`], the single place that knows `network_layer` means the firewall.

use std::fmt;

use crate::{EventName, Vertical};

macro_rules! event_catalog {
    ( $( $variant:ident => $name:literal, )+ ) => {
        /// An event name of the catalog: every event the product emits (seed 000, plus
        /// `backup.backup.progress`).
        ///
        /// Deliberately exhaustive: adding an event makes every `match` over it ask for a
        /// decision.
        #[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
        pub enum KnownEvent {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )+
        }

        impl KnownEvent {
            /// Every known event, in catalog order.
            pub const ALL: &'static [KnownEvent] = &[$(KnownEvent::$variant),+];

            /// The event name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(KnownEvent::$variant => $name,)+
                }
            }

            /// The catalog entry named `name`, if any.
            pub fn from_name(name: &str) -> Option<KnownEvent> {
                match name {
                    $($name => Some(KnownEvent::$variant),)+
                    _ => None,
                }
            }
        }

        /// Every event name of the catalog, in catalog order.
        pub const ALL_EVENT_NAMES: &[&str] = &[$($name),+];
    };
}

event_catalog! {
    // wpcore_layer
    CoreReinstallStarted => "wpcore_layer.core_reinstall.started",
    CoreReinstallCompleted => "wpcore_layer.core_reinstall.completed",
    CoreReinstallFailed => "wpcore_layer.core_reinstall.failed",
    CoreCheckStarted => "wpcore_layer.core_check.started",
    CoreCheckCompleted => "wpcore_layer.core_check.completed",
    PermissionsFixCompleted => "wpcore_layer.permissions_fix.completed",
    PermissionsFixFailed => "wpcore_layer.permissions_fix.failed",
    // filesystem_layer
    FilesystemScanStarted => "filesystem_layer.filesystem_scan.started",
    FilesystemScanCompleted => "filesystem_layer.filesystem_scan.completed",
    FilesystemScanFailed => "filesystem_layer.filesystem_scan.failed",
    FileQuarantineCompleted => "filesystem_layer.file_quarantine.completed",
    FileQuarantineFailed => "filesystem_layer.file_quarantine.failed",
    FileQuarantineRestoreCompleted => "filesystem_layer.file_quarantine_restore.completed",
    FileQuarantineRestoreFailed => "filesystem_layer.file_quarantine_restore.failed",
    FileWhitelistCompleted => "filesystem_layer.file_whitelist.completed",
    FileWhitelistFailed => "filesystem_layer.file_whitelist.failed",
    FileWhitelistRemoveCompleted => "filesystem_layer.file_whitelist_remove.completed",
    FileWhitelistRemoveFailed => "filesystem_layer.file_whitelist_remove.failed",
    FileRestoreCompleted => "filesystem_layer.file_restore.completed",
    FileRestoreFailed => "filesystem_layer.file_restore.failed",
    FileDeleteCompleted => "filesystem_layer.file_delete.completed",
    FileDeleteFailed => "filesystem_layer.file_delete.failed",
    // application_layer
    PluginsUpdateStarted => "application_layer.plugins.update.started",
    PluginsUpdateCompleted => "application_layer.plugins.update.completed",
    PluginsUpdateFailed => "application_layer.plugins.update.failed",
    PluginsActivated => "application_layer.plugins.activated",
    PluginsDeactivated => "application_layer.plugins.deactivated",
    VulnerabilitiesScanStarted => "application_layer.vulnerabilities_scan.started",
    VulnerabilitiesScanCompleted => "application_layer.vulnerabilities_scan.completed",
    VulnerabilitiesScanFailed => "application_layer.vulnerabilities_scan.failed",
    // firewall_layer (named network_layer.firewall.*)
    FirewallAttacksBlocked => "network_layer.firewall.attacks.blocked",
    FirewallBlacklistUpdated => "network_layer.firewall.blacklist.updated",
    FirewallWhitelistUpdated => "network_layer.firewall.whitelist.updated",
    FirewallToggledOn => "network_layer.firewall.toggled.on",
    FirewallToggledOff => "network_layer.firewall.toggled.off",
    // backup
    BackupStarted => "backup.backup.started",
    BackupProgress => "backup.backup.progress",
    BackupCompleted => "backup.backup.completed",
    BackupFailed => "backup.backup.failed",
    RestoreStarted => "backup.restore.started",
    RestoreCompleted => "backup.restore.completed",
    RestoreFailed => "backup.restore.failed",
    // operator
    AssessmentStarted => "operator.assessment.started",
    AssessmentCompleted => "operator.assessment.completed",
    AssessmentFailed => "operator.assessment.failed",
    ActionStarted => "operator.action.started",
    ActionCompleted => "operator.action.completed",
    ActionFailed => "operator.action.failed",
}

impl KnownEvent {
    /// The event name, validated.
    pub fn name(self) -> EventName {
        // unwrap: every catalog name is valid; the catalog test parses each of them.
        EventName::try_from(self.as_str()).expect("catalog names are valid")
    }

    /// The vertical of the event ([`Vertical::FirewallLayer`] for `network_layer.firewall.*`).
    pub fn vertical(self) -> Vertical {
        Vertical::from(self.prefix())
    }

    /// The first segment of the name.
    pub fn prefix(self) -> &'static str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(prefix, _)| prefix)
    }

    /// The last segment of the name: `started`, `completed`, `failed`, `on`...
    pub fn action(self) -> &'static str {
        let name = self.as_str();
        name.rsplit_once('.').map_or(name, |(_, action)| action)
    }

    /// The known events of `vertical`, in catalog order.
    pub fn of_vertical(vertical: &Vertical) -> impl Iterator<Item = KnownEvent> + '_ {
        KnownEvent::ALL
            .iter()
            .copied()
            .filter(move |e| e.vertical() == *vertical)
    }
}

impl fmt::Display for KnownEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<EventName> for KnownEvent {
    fn eq(&self, other: &EventName) -> bool {
        self.as_str() == other.as_str()
    }
}
