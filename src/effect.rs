//! Effects: what `decide` asks the outside world to do. The pure core never does I/O; the
//! engine runs stock reservation before committing and delivers every other effect from the
//! outbox after committing, at least once, with the key below for deduplication.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::ids::{CaseId, CustomerId, PackageId, RefundId, Sku};
use crate::money::Money;
use crate::order::{AnomalyReason, CancelReason, DeadlineKind, HoldReason, PackageItem, TrackingKind};
use crate::order_number::OrderNumber;

/// Units of one SKU, for the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockItem {
    /// SKU.
    pub sku: Sku,
    /// Units.
    pub quantity: u32,
}

/// Something the outside world must do because of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Reserve all of these or none (at placement, or for an exchange's replacement), before
    /// committing: an order or replacement that cannot get its stock must not exist.
    ReserveStock {
        /// What to reserve.
        items: Vec<StockItem>,
        /// The exchange case the replacement is for (none at placement).
        #[serde(default)]
        case: Option<CaseId>,
    },
    /// Give reserved stock back (cancellation, rejection).
    ReleaseStock {
        /// What to release.
        items: Vec<StockItem>,
    },
    /// Reserved stock left the warehouse (a package shipped).
    CommitStock {
        /// Which package.
        package: PackageId,
        /// What left.
        items: Vec<StockItem>,
    },
    /// Goods came back and go on the shelf again (returned to sender).
    Restock {
        /// Which package came back.
        package: PackageId,
        /// What came back.
        items: Vec<StockItem>,
    },
    /// Inspected returned goods go back on the shelf (after-sales).
    ReturnToStock {
        /// Which case.
        case: CaseId,
        /// What came back.
        items: Vec<StockItem>,
    },
    /// Close the unpaid payment at the provider so the buyer can no longer pay.
    ClosePayment {
        /// Provider.
        provider: String,
    },
    /// Send money back through the gateway.
    Refund {
        /// Which refund of the order.
        refund: RefundId,
        /// Amount.
        amount: Money,
        /// Provider.
        provider: String,
    },
    /// Create the shipment with the carrier; its waybill comes back as `RecordWaybill`.
    CreateShipment {
        /// Parcel.
        package: PackageId,
        /// Carrier.
        carrier: String,
        /// Service level.
        service: String,
        /// Contents.
        items: Vec<PackageItem>,
        /// Destination.
        address: Address,
    },
    /// Ask the tracking service to push updates about a recorded waybill
    /// (`Logistics::subscribe_tracking`).
    SubscribeTracking {
        /// Which parcel.
        package: PackageId,
        /// Carrier, as booked or as the tracking service corrected it.
        carrier: String,
        /// Waybill.
        waybill: String,
    },
    /// Tell someone something.
    Notify(Notification),
    /// A deadline was set (stored on the order; hosts with their own scheduler may use it).
    Schedule {
        /// Which.
        kind: DeadlineKind,
        /// When.
        at: DateTime<Utc>,
    },
}

impl Effect {
    /// The stable key of this effect for deduplication at the receiving side. Keys of effects
    /// that happen once per order (or per package/refund) are derived from what they are about,
    /// so a retried command or a redelivered outbox item carries the same key; notifications
    /// use the sequence number of the decision's first event and their place in it.
    pub fn key(&self, order: &str, seq: u64, index: usize) -> String {
        // Written piece by piece rather than with `format!`: a notification's key is built for
        // every notification of every command, and the formatter costs more than the key.
        let mut key = String::with_capacity(order.len() + 40);
        key.push_str(order);
        // Writing to a `String` cannot fail, so `write!`'s result is dropped.
        match self {
            Effect::ReserveStock { case: None, .. } => key.push_str("/reserve"),
            Effect::ReserveStock { case: Some(case), .. } => _ = write!(key, "/reserve/{case}"),
            Effect::ReturnToStock { case, .. } => _ = write!(key, "/return-to-stock/{case}"),
            Effect::ReleaseStock { .. } => key.push_str("/release"),
            Effect::CommitStock { package, .. } => _ = write!(key, "/commit/{package}"),
            Effect::Restock { package, .. } => _ = write!(key, "/restock/{package}"),
            // Per provider: each session the buyer opened is closed on its own.
            Effect::ClosePayment { provider } => _ = write!(key, "/close-payment/{provider}"),
            Effect::Refund { refund, .. } => _ = write!(key, "/refund/{refund}"),
            Effect::CreateShipment { package, .. } => _ = write!(key, "/shipment/{package}"),
            // Per carrier: a corrected carrier subscribes the parcel again.
            Effect::SubscribeTracking { package, carrier, .. } => {
                _ = write!(key, "/subscribe-tracking/{package}/{carrier}")
            }
            Effect::Notify(n) => {
                key.push_str("/notify/");
                push_decimal(&mut key, seq);
                key.push('.');
                push_decimal(&mut key, u64::try_from(index).unwrap_or(u64::MAX));
                key.push('/');
                key.push_str(n.kind.name());
            }
            Effect::Schedule { kind, .. } => _ = write!(key, "/schedule/{seq}.{index}/{kind}"),
        }
        key
    }

    /// True for effects that must run before the events are committed (stock reservation:
    /// an order that cannot get its stock must not exist).
    pub fn before_commit(&self) -> bool {
        matches!(self, Effect::ReserveStock { .. })
    }
}

/// Appends `n` in decimal, as `{n}` would.
fn push_decimal(out: &mut String, n: u64) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    // `n % 10` is below ten: the cast keeps all of it.
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Who is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Audience {
    /// The buyer.
    Buyer {
        /// Which buyer.
        customer: CustomerId,
    },
    /// The shop's customer service.
    CustomerService,
}

/// A typed notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Who is told.
    pub audience: Audience,
    /// The order's number (every message carries it).
    pub order_number: OrderNumber,
    /// What about.
    pub kind: NotificationKind,
}

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationKind {
    /// Order placed: the number and the estimated ship time.
    Placed {
        /// Estimated ship time.
        estimated_ship_by: DateTime<Utc>,
        /// Total due.
        total: Money,
    },
    /// The shop needs to talk to the buyer.
    NeedsBuyerContact {
        /// Why.
        reasons: Vec<HoldReason>,
    },
    /// Payment received in full.
    Paid {
        /// Amount received.
        amount: Money,
    },
    /// A parcel left.
    Shipped {
        /// Which.
        package: PackageId,
        /// Carrier.
        carrier: String,
        /// Waybill.
        waybill: String,
    },
    /// A tracking change.
    TrackingUpdate {
        /// Which parcel.
        package: PackageId,
        /// Normalized kind.
        tracking: TrackingKind,
        /// Carrier's words.
        description: String,
    },
    /// Every parcel arrived.
    Delivered,
    /// Receipt confirmed.
    Completed,
    /// Cancelled or rejected.
    Cancelled {
        /// Why.
        reason: CancelReason,
    },
    /// Money went back.
    Refunded {
        /// Amount.
        amount: Money,
    },
    /// A payment could not be applied (to customer service).
    PaymentAnomaly {
        /// Provider transaction id.
        txn_id: String,
        /// Why.
        reason: AnomalyReason,
    },
    /// An after-sales case moved on (to the buyer).
    CaseUpdate {
        /// Which case.
        case: CaseId,
        /// What happened to it.
        state: CaseUpdateState,
        /// What staff wrote (the reason it was turned down, the inspection's findings, the
        /// resolution) or the repaired goods' waybill; empty when the state says it all.
        /// Rows written before states were typed may hold an English sentence here for the
        /// states that take no detail: catalogues leave it out for those.
        detail: String,
    },
    /// A requested case was not answered in time (to customer service).
    CaseEscalated {
        /// Which case.
        case: CaseId,
    },
    /// A follow-up visit is due (to customer service).
    FollowUpDue {
        /// The buyer to visit.
        customer: CustomerId,
    },
}

/// What happened to an after-sales case, as its buyer is told (written as the snake_case
/// name, as the state strings were before they were typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseUpdateState {
    /// The request was received.
    Requested,
    /// Accepted; nothing to send back.
    Approved,
    /// Accepted; the goods are to be sent back.
    AwaitingReturn,
    /// Turned down (the detail says why).
    Rejected,
    /// The returned parcel arrived.
    Received,
    /// The returned goods passed inspection (the detail may hold findings).
    InspectionPassed,
    /// The returned goods failed inspection (the detail says why).
    InspectionFailed,
    /// The repaired goods were sent back (the detail is the waybill).
    RepairedAndReturned,
    /// Someone is looking into the complaint.
    InProgress,
    /// Resolved (the detail says how).
    Resolved,
    /// Closed.
    Closed,
}

impl CaseUpdateState {
    /// Every state, for catalogues and their tests.
    pub const ALL: [CaseUpdateState; 11] = [
        CaseUpdateState::Requested,
        CaseUpdateState::Approved,
        CaseUpdateState::AwaitingReturn,
        CaseUpdateState::Rejected,
        CaseUpdateState::Received,
        CaseUpdateState::InspectionPassed,
        CaseUpdateState::InspectionFailed,
        CaseUpdateState::RepairedAndReturned,
        CaseUpdateState::InProgress,
        CaseUpdateState::Resolved,
        CaseUpdateState::Closed,
    ];

    /// True for the states whose detail is worth showing (staff's words or a waybill).
    pub fn has_detail(&self) -> bool {
        matches!(
            self,
            CaseUpdateState::Rejected
                | CaseUpdateState::InspectionPassed
                | CaseUpdateState::InspectionFailed
                | CaseUpdateState::RepairedAndReturned
                | CaseUpdateState::Resolved
        )
    }
}

impl NotificationKind {
    /// Every kind's name (see [`NotificationKind::name`]): what a catalogue must put into words.
    pub const KINDS: &'static [&'static str] = &[
        "placed",
        "needs_buyer_contact",
        "paid",
        "shipped",
        "tracking_update",
        "delivered",
        "completed",
        "cancelled",
        "refunded",
        "payment_anomaly",
        "follow_up_due",
        "case_update",
        "case_escalated",
    ];

    /// snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            NotificationKind::Placed { .. } => "placed",
            NotificationKind::NeedsBuyerContact { .. } => "needs_buyer_contact",
            NotificationKind::Paid { .. } => "paid",
            NotificationKind::Shipped { .. } => "shipped",
            NotificationKind::TrackingUpdate { .. } => "tracking_update",
            NotificationKind::Delivered => "delivered",
            NotificationKind::Completed => "completed",
            NotificationKind::Cancelled { .. } => "cancelled",
            NotificationKind::Refunded { .. } => "refunded",
            NotificationKind::PaymentAnomaly { .. } => "payment_anomaly",
            NotificationKind::FollowUpDue { .. } => "follow_up_due",
            NotificationKind::CaseUpdate { .. } => "case_update",
            NotificationKind::CaseEscalated { .. } => "case_escalated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_written_form() {
        let notify = Effect::Notify(Notification {
            audience: Audience::CustomerService,
            order_number: OrderNumber::from_value(1).unwrap_or_else(|e| panic!("{e}")),
            kind: NotificationKind::Delivered,
        });
        // Stored outbox rows carry these keys: they must not change between versions.
        for (seq, index) in [(0, 0), (1, 0), (9, 10), (10, 9), (1_234_567, 42), (u64::MAX, usize::MAX)] {
            assert_eq!(notify.key("o-1", seq, index), format!("o-1/notify/{seq}.{index}/delivered"));
        }
        let release = Effect::ReleaseStock { items: Vec::new() };
        assert_eq!(release.key("o-1", 3, 1), "o-1/release");
        let reserve = Effect::ReserveStock { items: Vec::new(), case: Some(CaseId(2)) };
        assert_eq!(reserve.key("o-1", 3, 1), format!("o-1/reserve/{}", CaseId(2)));
        let commit = Effect::CommitStock { package: PackageId(1), items: Vec::new() };
        assert_eq!(commit.key("o-1", 3, 1), format!("o-1/commit/{}", PackageId(1)));
    }
}
