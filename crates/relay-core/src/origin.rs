//! Where an event was produced.

string_enum! {
    /// Where an event was produced: the payload's `origin` field.
    ///
    /// An open set. The products' own origins are variants; anything else (a new service, or the
    /// seed documentation's literal placeholder `wpsec/backend/worker/frontend`) is kept as an
    /// unknown value: check [`Origin::is_known`] to count those.
    ///
    /// ```
    /// use relay_core::Origin;
    /// assert_eq!(Origin::from("wpsec"), Origin::Wpsec);
    /// assert_eq!(Origin::from("backend").canonical(), Origin::WpfortServer);
    /// let odd = Origin::from("wpsec/backend/worker/frontend");
    /// assert!(!odd.is_known());
    /// assert_eq!(odd.as_str(), "wpsec/backend/worker/frontend");
    /// ```
    pub enum Origin {
        /// `wpsec`: the WordPress plugin.
        Wpsec = "wpsec",
        /// `wpfort_server`: the WPFort backend (this relay's own backup broadcasts use it).
        WpfortServer = "wpfort_server",
        /// `wpfort_workers`: the WPFort background workers.
        WpfortWorkers = "wpfort_workers",
        /// `wpfort_frontend`: the WPFort dashboard.
        WpfortFrontend = "wpfort_frontend",
        /// `backend`: short form of [`Origin::WpfortServer`] seen in payloads.
        Backend = "backend",
        /// `worker`: short form of [`Origin::WpfortWorkers`] seen in payloads.
        Worker = "worker",
        /// `frontend`: short form of [`Origin::WpfortFrontend`] seen in payloads.
        Frontend = "frontend",
    }
}

impl Origin {
    /// The longest origin accepted in a payload, in bytes.
    pub const MAX_LEN: usize = 128;

    /// The long form of a short origin (`backend` → `wpfort_server`, `worker` →
    /// `wpfort_workers`, `frontend` → `wpfort_frontend`); any other origin unchanged.
    pub fn canonical(&self) -> Origin {
        match self {
            Origin::Backend => Origin::WpfortServer,
            Origin::Worker => Origin::WpfortWorkers,
            Origin::Frontend => Origin::WpfortFrontend,
            other => other.clone(),
        }
    }
}
