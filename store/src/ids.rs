//! Newtype ids, one per table, so an `AccountId` can never be passed where a `PlanId` belongs.

macro_rules! id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent, no_pg_array)]
        pub struct $name(pub i64);

        impl $name {
            /// The raw database id.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

id!(
    /// `accounts.id`.
    AccountId
);
id!(
    /// `recovery_codes.id`.
    RecoveryCodeId
);
id!(
    /// `ip_allowlist.id`.
    AllowlistEntryId
);
id!(
    /// `plans.id`.
    PlanId
);
id!(
    /// `subscriptions.id`.
    SubscriptionId
);
id!(
    /// `payments.id`.
    PaymentId
);
id!(
    /// `webhook_events.id`.
    WebhookEventId
);
id!(
    /// `activity.id`.
    ActivityId
);
id!(
    /// `exits.id`. In the usage tables `ExitId::DIRECT` (0) stands for direct egress.
    ExitId
);

impl ExitId {
    /// Traffic that left through the gateway's own network rather than an upstream exit.
    pub const DIRECT: ExitId = ExitId(0);
}
