//! After-sales cases: refund only, return and refund, exchange, warranty repair, complaint.
//! Each case is its own small state machine linked to the order:
//!
//! ```text
//! refund only:        requested → approved → refunded → closed
//! return and refund:  requested → awaiting return → received → inspected(pass) → refunded → closed
//! exchange:           requested → awaiting return → received → inspected(pass) → replacement shipped → closed
//! warranty repair:    requested → awaiting return → received → inspected(pass) → repaired and returned → closed
//! complaint:          requested (open) → in progress (assignee) → resolved → closed after a follow-up
//! any requested case: → rejected (reason) | withdrawn (by the buyer)
//! a failed inspection: → closed (goods go back to the buyer, nothing refunded)
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, LineId, PackageId, RefundId, StaffId};
use crate::order::TrackingUpdate;

/// What the buyer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// Money back, goods not returned (e.g. a missing or spoiled item).
    RefundOnly,
    /// Goods returned, money back.
    ReturnAndRefund,
    /// Goods returned, the same goods sent again.
    Exchange,
    /// Goods sent in for repair under warranty and sent back.
    WarrantyRepair,
    /// A complaint or suggestion: no goods, no money by itself.
    Complaint,
}

impl CaseKind {
    /// True when the buyer sends goods back.
    pub fn returns_goods(&self) -> bool {
        match self {
            CaseKind::ReturnAndRefund | CaseKind::Exchange | CaseKind::WarrantyRepair => true,
            CaseKind::RefundOnly | CaseKind::Complaint => false,
        }
    }

    /// True for the kinds limited by the return window after completion.
    pub fn uses_return_window(&self) -> bool {
        match self {
            CaseKind::RefundOnly | CaseKind::ReturnAndRefund | CaseKind::Exchange => true,
            CaseKind::WarrantyRepair | CaseKind::Complaint => false,
        }
    }

    /// snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CaseKind::RefundOnly => "refund_only",
            CaseKind::ReturnAndRefund => "return_and_refund",
            CaseKind::Exchange => "exchange",
            CaseKind::WarrantyRepair => "warranty_repair",
            CaseKind::Complaint => "complaint",
        }
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Units of one order line in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseLine {
    /// The order line.
    pub line: LineId,
    /// Units.
    pub quantity: u32,
}

/// Where a case stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CaseState {
    /// Waiting for customer service (the SLA clock runs).
    Requested,
    /// Refund only: approved, refund next.
    Approved,
    /// Approved; waiting for the buyer's return parcel.
    AwaitingReturn,
    /// The return parcel arrived at the warehouse.
    Received,
    /// The returned goods were inspected.
    Inspected {
        /// True when they pass (back to stock; refund, replacement or repair goes ahead).
        passed: bool,
        /// What the inspector found.
        note: String,
    },
    /// The refund was requested.
    Refunded,
    /// The replacement parcel shipped.
    ReplacementShipped,
    /// The repaired goods were sent back.
    RepairedAndReturned,
    /// Complaint: someone is on it.
    InProgress {
        /// Who.
        assignee: StaffId,
    },
    /// Complaint: resolved; closes once the follow-up visit is recorded.
    Resolved {
        /// How.
        resolution: String,
    },
    /// Turned down.
    Rejected {
        /// Why.
        reason: String,
    },
    /// The buyer took it back while it was only requested.
    Withdrawn,
    /// Done.
    Closed,
}

impl CaseState {
    /// True when nothing more happens to the case (follow-ups aside).
    pub fn is_terminal(&self) -> bool {
        match self {
            CaseState::Rejected { .. } | CaseState::Withdrawn | CaseState::Closed => true,
            CaseState::Requested
            | CaseState::Approved
            | CaseState::AwaitingReturn
            | CaseState::Received
            | CaseState::Inspected { .. }
            | CaseState::Refunded
            | CaseState::ReplacementShipped
            | CaseState::RepairedAndReturned
            | CaseState::InProgress { .. }
            | CaseState::Resolved { .. } => false,
        }
    }

    /// True when the case was turned down or taken back: its units are free again.
    pub fn released_units(&self) -> bool {
        matches!(self, CaseState::Rejected { .. } | CaseState::Withdrawn)
    }

    /// snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            CaseState::Requested => "requested",
            CaseState::Approved => "approved",
            CaseState::AwaitingReturn => "awaiting_return",
            CaseState::Received => "received",
            CaseState::Inspected { passed: true, .. } => "inspection_passed",
            CaseState::Inspected { passed: false, .. } => "inspection_failed",
            CaseState::Refunded => "refunded",
            CaseState::ReplacementShipped => "replacement_shipped",
            CaseState::RepairedAndReturned => "repaired_and_returned",
            CaseState::InProgress { .. } => "in_progress",
            CaseState::Resolved { .. } => "resolved",
            CaseState::Rejected { .. } => "rejected",
            CaseState::Withdrawn => "withdrawn",
            CaseState::Closed => "closed",
        }
    }
}

/// What the buyer (or customer service for them) submits to open a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRequest {
    /// What is asked for.
    pub kind: CaseKind,
    /// Lines and units concerned (empty for a complaint about the order as a whole).
    #[serde(default)]
    pub lines: Vec<CaseLine>,
    /// Machine-readable reason (e.g. `damaged`, `wrong_item`, `no_reason`, `late_delivery`).
    pub reason_code: String,
    /// The buyer's words.
    #[serde(default)]
    pub text: String,
    /// Photo ids or URLs.
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// One after-sales case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Number within the order.
    pub id: CaseId,
    /// What was asked.
    pub request: CaseRequest,
    /// Where it stands.
    pub state: CaseState,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// True once the answer SLA passed while it was still requested.
    pub escalated: bool,
    /// Waybill of the buyer's return parcel.
    pub return_waybill: Option<String>,
    /// Tracking of the return parcel, in time order.
    pub return_tracking: Vec<TrackingUpdate>,
    /// The refund paid for this case.
    pub refund: Option<RefundId>,
    /// The replacement parcel (exchange).
    pub replacement: Option<PackageId>,
    /// Waybill of the repaired goods going back (warranty repair).
    pub repair_waybill: Option<String>,
    /// Satisfaction score of the follow-up visit after the case.
    pub follow_up_score: Option<u8>,
}

impl Case {
    /// A freshly opened case.
    pub fn open(id: CaseId, request: CaseRequest, at: DateTime<Utc>) -> Case {
        Case {
            id,
            request,
            state: CaseState::Requested,
            opened_at: at,
            escalated: false,
            return_waybill: None,
            return_tracking: Vec::new(),
            refund: None,
            replacement: None,
            repair_waybill: None,
            follow_up_score: None,
        }
    }

    /// Units of `line` this case holds.
    pub fn quantity_of(&self, line: LineId) -> u32 {
        self.request.lines.iter().filter(|l| l.line == line).map(|l| l.quantity).sum()
    }

    /// True when this case's units count against what can still be claimed: every return,
    /// exchange and refund-only case that was not rejected or withdrawn, and warranty repairs
    /// while they are open.
    pub fn holds_units(&self) -> bool {
        match self.request.kind {
            CaseKind::Complaint => false,
            CaseKind::WarrantyRepair => !self.state.is_terminal(),
            CaseKind::RefundOnly | CaseKind::ReturnAndRefund | CaseKind::Exchange => !self.state.released_units(),
        }
    }
}
