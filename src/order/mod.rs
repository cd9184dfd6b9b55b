//! The order aggregate: small sub-machines (review, payment, fulfilment, deadlines) and one
//! pure function, [`Order::status`], that derives the summary status from them.
//!
//! "Paid and approved" is a join of two gates ([`Order::ready_to_fulfil`]), exactly as the
//! source document describes stage 4, rather than one more state in a giant enum.

pub mod after_sales;
pub mod deadlines;
pub mod fulfilment;
pub mod payment;
pub mod review;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::ActorKind;
use crate::address::Address;
use crate::ids::{CustomerId, LineId, OrderId};
use crate::money::Currency;
use crate::order_number::OrderNumber;
use crate::placement::{Line, Totals};

pub use after_sales::{Case, CaseKind, CaseLine, CaseRequest, CaseState};
pub use deadlines::{DeadlineKind, Deadlines};
pub use fulfilment::{
    Fulfilment, PackProblem, Package, PackageItem, PackageState, PickItem, ScannedItem, TrackingKind, TrackingUpdate,
};
pub use payment::{
    Anomaly, AnomalyReason, Capture, LineRefund, PaymentLedger, PaymentState, Refund, RefundFailure, RefundMethod,
    RefundReason, RefundStatus,
};
pub use review::{HoldAbove, HoldReason, HoldReasonKind, ReviewRule, ReviewState, Verdict};

/// The carrier under which [`Order::carrier_waybills`] lists a waybill whose carrier the order
/// does not know: the buyer's return parcels (the buyer names only the waybill), or a parcel
/// with a waybill but no carrier (never made by the workflow). Stores index such a waybill
/// under this carrier, and the engine looks a tracking push's waybill up under it when no
/// order has the waybill under the push's own carrier.
pub const UNKNOWN_CARRIER: &str = "";

/// The summary status of an order, derived from its sub-machines by [`Order::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Online payment not (fully) received yet.
    AwaitingPayment,
    /// Paid (or cash on delivery), waiting for review.
    UnderReview,
    /// Held for a person (stock, address, fraud, buyer contact...).
    OnHold,
    /// Both gates open: approved and paid (or COD). Waiting for the warehouse.
    ReadyToShip,
    /// Being picked, packed or booked with a carrier; nothing has left yet.
    InFulfilment,
    /// Some packages left, some lines are still in the warehouse.
    PartiallyShipped,
    /// Every line has left.
    Shipped,
    /// Every package was delivered.
    Delivered,
    /// The buyer confirmed receipt (or it was confirmed automatically). After-sales may go on.
    Completed,
    /// Cancelled before shipping.
    Cancelled,
    /// Rejected at review.
    Rejected,
    /// Every parcel came back undelivered (e.g. refused at the door).
    ReturnedToSender,
}

impl OrderStatus {
    /// Every status, in workflow order.
    pub const ALL: [OrderStatus; 12] = [
        OrderStatus::AwaitingPayment,
        OrderStatus::UnderReview,
        OrderStatus::OnHold,
        OrderStatus::ReadyToShip,
        OrderStatus::InFulfilment,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
        OrderStatus::ReturnedToSender,
    ];

    /// True when the main flow is over: the status never changes again (money and after-sales
    /// records may still be added).
    pub fn is_terminal(&self) -> bool {
        match self {
            OrderStatus::Completed | OrderStatus::Cancelled | OrderStatus::Rejected | OrderStatus::ReturnedToSender => {
                true
            }
            OrderStatus::AwaitingPayment
            | OrderStatus::UnderReview
            | OrderStatus::OnHold
            | OrderStatus::ReadyToShip
            | OrderStatus::InFulfilment
            | OrderStatus::PartiallyShipped
            | OrderStatus::Shipped
            | OrderStatus::Delivered => false,
        }
    }

    /// True while the order can still be cancelled (nothing has left the warehouse).
    pub fn is_cancellable(&self) -> bool {
        match self {
            OrderStatus::AwaitingPayment
            | OrderStatus::UnderReview
            | OrderStatus::OnHold
            | OrderStatus::ReadyToShip
            | OrderStatus::InFulfilment => true,
            OrderStatus::PartiallyShipped
            | OrderStatus::Shipped
            | OrderStatus::Delivered
            | OrderStatus::Completed
            | OrderStatus::Cancelled
            | OrderStatus::Rejected
            | OrderStatus::ReturnedToSender => false,
        }
    }

    /// True once something has left the warehouse.
    pub fn has_shipped(&self) -> bool {
        match self {
            OrderStatus::PartiallyShipped
            | OrderStatus::Shipped
            | OrderStatus::Delivered
            | OrderStatus::Completed
            | OrderStatus::ReturnedToSender => true,
            OrderStatus::AwaitingPayment
            | OrderStatus::UnderReview
            | OrderStatus::OnHold
            | OrderStatus::ReadyToShip
            | OrderStatus::InFulfilment
            | OrderStatus::Cancelled
            | OrderStatus::Rejected => false,
        }
    }

    /// The snake_case name used in storage and APIs.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::UnderReview => "under_review",
            OrderStatus::OnHold => "on_hold",
            OrderStatus::ReadyToShip => "ready_to_ship",
            OrderStatus::InFulfilment => "in_fulfilment",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::ReturnedToSender => "returned_to_sender",
        }
    }

    /// Parses [`OrderStatus::as_str`].
    pub fn parse(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the order was completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// When.
    pub at: DateTime<Utc>,
    /// True when the system confirmed receipt because the buyer did nothing.
    pub automatic: bool,
}

/// How the order was cancelled (or rejected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub by: ActorKind,
    /// Why.
    pub reason: CancelReason,
}

/// Why an order was cancelled or rejected: a kind the system names (put into words by a
/// [`crate::locale::Catalogue`]), or the words of the person who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CancelReason {
    /// The pay-by deadline passed with the order unpaid (the system cancelled it).
    NotPaidInTime,
    /// In the words of whoever cancelled or rejected it (buyer, customer service, reviewer).
    Stated {
        /// Their words.
        text: String,
    },
}

impl CancelReason {
    /// The reason a person gave.
    pub fn stated(text: impl Into<String>) -> CancelReason {
        CancelReason::Stated { text: text.into() }
    }
}

/// A follow-up visit by customer service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// When it fell due.
    pub due_at: DateTime<Utc>,
    /// Satisfaction score 1–5, once recorded.
    pub score: Option<u8>,
    /// What the buyer said.
    pub notes: String,
}

/// An order: the fold of its events.
///
/// Its fields are read through getters and never written from outside the crate: an order
/// changes only by applying events (`evolve`), so every copy is the fold of a history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Internal id.
    pub(crate) id: OrderId,
    /// The number the buyer is told.
    pub(crate) number: OrderNumber,
    /// The buyer.
    pub(crate) customer: CustomerId,
    /// When it was placed.
    pub(crate) placed_at: DateTime<Utc>,
    /// Currency of every amount.
    pub(crate) currency: Currency,
    /// Lines, numbered from 1. Shared: they never change after placement, so every copy of
    /// the order (and its `order_placed` event) holds the same ones.
    pub(crate) lines: Arc<[Line]>,
    /// Where to ship (shared like `lines`).
    pub(crate) shipping_address: Arc<Address>,
    /// Totals.
    pub(crate) totals: Totals,
    /// The buyer's note.
    pub(crate) buyer_note: String,
    /// Review sub-machine.
    pub(crate) review: ReviewState,
    /// Payment ledger.
    pub(crate) payment: PaymentLedger,
    /// Fulfilment sub-machine.
    pub(crate) fulfilment: Fulfilment,
    /// Set once receipt is confirmed.
    pub(crate) completion: Option<Completion>,
    /// Set once cancelled or rejected.
    pub(crate) cancellation: Option<Cancellation>,
    /// Deadlines.
    pub(crate) deadlines: Deadlines,
    /// Follow-up visits.
    pub(crate) follow_ups: Vec<FollowUp>,
    /// After-sales cases, in the order they were opened.
    pub(crate) cases: Vec<Case>,
    /// Number of events applied: the version compared on append.
    pub(crate) version: u64,
}

/// Read access: what an order is, field by field.
impl Order {
    /// Internal id.
    pub fn id(&self) -> OrderId {
        self.id
    }

    /// The number the buyer is told.
    pub fn number(&self) -> OrderNumber {
        self.number
    }

    /// The buyer.
    pub fn customer(&self) -> &CustomerId {
        &self.customer
    }

    /// When it was placed.
    pub fn placed_at(&self) -> DateTime<Utc> {
        self.placed_at
    }

    /// Currency of every amount.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Lines, numbered from 1. Shared: they never change after placement, so every copy of
    /// the order (and its `order_placed` event) holds the same ones.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Where to ship (shared like `lines`).
    pub fn shipping_address(&self) -> &Address {
        &self.shipping_address
    }

    /// Totals.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// The buyer's note.
    pub fn buyer_note(&self) -> &str {
        &self.buyer_note
    }

    /// Review sub-machine.
    pub fn review(&self) -> &ReviewState {
        &self.review
    }

    /// Payment ledger.
    pub fn payment(&self) -> &PaymentLedger {
        &self.payment
    }

    /// Fulfilment sub-machine.
    pub fn fulfilment(&self) -> &Fulfilment {
        &self.fulfilment
    }

    /// Set once receipt is confirmed.
    pub fn completion(&self) -> Option<&Completion> {
        self.completion.as_ref()
    }

    /// Set once cancelled or rejected.
    pub fn cancellation(&self) -> Option<&Cancellation> {
        self.cancellation.as_ref()
    }

    /// Deadlines.
    pub fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    /// Follow-up visits.
    pub fn follow_ups(&self) -> &[FollowUp] {
        &self.follow_ups
    }

    /// After-sales cases, in the order they were opened.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// Number of events applied: the version compared on append.
    pub fn version(&self) -> u64 {
        self.version
    }
}

impl Order {
    /// The summary status: one pure function of the sub-machines.
    pub fn status(&self) -> OrderStatus {
        if self.cancellation.is_some() {
            return if self.review.is_rejected() { OrderStatus::Rejected } else { OrderStatus::Cancelled };
        }
        if self.completion.is_some() {
            return OrderStatus::Completed;
        }
        if self.all_lines_shipped() {
            let mut packages = self.fulfilment.order_packages();
            if packages.all(|p| p.state == PackageState::ReturnedToSender) {
                return OrderStatus::ReturnedToSender;
            }
            let mut shipped = self.fulfilment.order_packages().filter(|p| p.state.has_shipped());
            if shipped.all(|p| p.state == PackageState::Delivered) {
                return OrderStatus::Delivered;
            }
            return OrderStatus::Shipped;
        }
        if self.fulfilment.any_shipped() {
            return OrderStatus::PartiallyShipped;
        }
        if self.review.is_on_hold() {
            return OrderStatus::OnHold;
        }
        if !self.payment.gate_open() {
            return OrderStatus::AwaitingPayment;
        }
        if !self.review.is_approved() {
            return OrderStatus::UnderReview;
        }
        if self.fulfilment.picking_started.is_some() { OrderStatus::InFulfilment } else { OrderStatus::ReadyToShip }
    }

    /// The join of the two gates of stage 4: review approved AND (paid OR cash on delivery).
    pub fn ready_to_fulfil(&self) -> bool {
        self.review.is_approved() && self.payment.gate_open() && self.cancellation.is_none()
    }

    /// The line with this id.
    pub fn line(&self, id: LineId) -> Option<&Line> {
        self.lines.iter().find(|l| l.id == id)
    }

    /// Units of `line` not yet packed into any package.
    pub fn remaining_to_pack(&self, line: &Line) -> u32 {
        line.quantity.saturating_sub(self.fulfilment.packed_quantity(line.id))
    }

    /// True when every unit of every line is in a package that has shipped.
    pub fn all_lines_shipped(&self) -> bool {
        self.lines.iter().all(|l| self.fulfilment.shipped_quantity(l.id) >= l.quantity)
    }

    /// The case with this id.
    pub fn case(&self, id: crate::ids::CaseId) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// Every waybill of the order: its parcels, and the buyer's return parcels of its cases.
    pub fn waybills(&self) -> impl Iterator<Item = &str> {
        self.fulfilment
            .packages
            .iter()
            .filter_map(|p| p.waybill.as_deref())
            .chain(self.cases.iter().filter_map(|c| c.return_waybill.as_deref()))
    }

    /// Every waybill of the order with its carrier, as `(carrier, waybill)`: how stores index
    /// them, since waybill numbers are unique per carrier only. A parcel's carrier is the one
    /// it was booked with; a return parcel's is [`UNKNOWN_CARRIER`].
    pub fn carrier_waybills(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fulfilment
            .packages
            .iter()
            .filter_map(|p| p.waybill.as_deref().map(|w| (p.carrier.as_deref().unwrap_or(UNKNOWN_CARRIER), w)))
            .chain(self.cases.iter().filter_map(|c| c.return_waybill.as_deref().map(|w| (UNKNOWN_CARRIER, w))))
    }

    /// The earliest pending deadline (what stores index).
    pub fn next_deadline(&self) -> Option<(DateTime<Utc>, DeadlineKind)> {
        self.deadlines.next()
    }
}
