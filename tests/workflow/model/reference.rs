//! The reference model: who may do what, which statuses allow which command, and what every
//! command does to a small, independent copy of an order.

use super::*;
// ---------------------------------------------------------------------------------------------
// Actors and the permission table, restated
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Who {
    /// alice, who placed the order.
    Owner,
    /// Another buyer.
    Mallory,
    Reviewer,
    Warehouse,
    CustomerService,
    Admin,
    /// Staff without any role.
    NoRoles,
    Provider,
    Carrier,
    System,
}

pub(super) const EVERYONE: [Who; 10] = [
    Who::Owner,
    Who::Mallory,
    Who::Reviewer,
    Who::Warehouse,
    Who::CustomerService,
    Who::Admin,
    Who::NoRoles,
    Who::Provider,
    Who::Carrier,
    Who::System,
];

impl Who {
    pub(super) fn actor(self) -> Actor {
        match self {
            Who::Owner => buyer("alice"),
            Who::Mallory => buyer("mallory"),
            Who::Reviewer => reviewer(),
            Who::Warehouse => warehouse(),
            Who::CustomerService => customer_service(),
            Who::Admin => staff("ada", &[Role::Admin]),
            Who::NoRoles => staff("nobody", &[]),
            Who::Provider => provider(),
            Who::Carrier => carrier("sf-express"),
            Who::System => Actor::System,
        }
    }

    pub(super) fn kind(self) -> ActorKind {
        match self {
            Who::Owner | Who::Mallory => ActorKind::Buyer,
            Who::Reviewer | Who::Warehouse | Who::CustomerService | Who::Admin | Who::NoRoles => ActorKind::Staff,
            Who::Provider => ActorKind::PaymentProvider,
            Who::Carrier => ActorKind::Carrier,
            Who::System => ActorKind::System,
        }
    }

    /// The permission table, written out per command from the specification.
    pub(super) fn may(self, kind: CommandKind) -> bool {
        use Who::*;
        match kind {
            CommandKind::Place => matches!(self, Owner | CustomerService | Admin),
            CommandKind::Approve => matches!(self, Reviewer | Admin | System),
            CommandKind::Hold => matches!(self, Reviewer | CustomerService | Admin | System),
            CommandKind::ResolveHold => matches!(self, Reviewer | CustomerService | Admin),
            CommandKind::Reject => matches!(self, Reviewer | Admin),
            CommandKind::OpenPaymentSession => matches!(self, Owner | CustomerService | Admin | System),
            CommandKind::CapturePayment
            | CommandKind::RecordPaymentAnomaly
            | CommandKind::CompleteRefund
            | CommandKind::FailRefund => matches!(self, Provider | System),
            CommandKind::RequestRefund | CommandKind::RecordFollowUp | CommandKind::RefundUnappliedPayment => {
                matches!(self, CustomerService | Admin)
            }
            CommandKind::IssuePickList | CommandKind::Pack | CommandKind::BookShipment => {
                matches!(self, Warehouse | Admin)
            }
            CommandKind::RecordWaybill => matches!(self, Warehouse | Admin | System | Carrier),
            CommandKind::RecordTracking => matches!(self, System | Carrier),
            CommandKind::CorrectCarrier => self == System,
            CommandKind::RecordCodCollected => matches!(self, Carrier),
            CommandKind::ConfirmReceipt => matches!(self, Owner | Admin),
            CommandKind::Cancel => matches!(self, Owner | CustomerService | Admin),
            CommandKind::CancelUnpaid
            | CommandKind::AutoConfirm
            | CommandKind::CloseAfterSales
            | CommandKind::FollowUpDue
            | CommandKind::EscalateCase
            | CommandKind::CaseFollowUpDue => matches!(self, System),
            CommandKind::OpenCase | CommandKind::RecordReturnParcel => matches!(self, Owner | CustomerService | Admin),
            CommandKind::WithdrawCase => self == Owner,
            CommandKind::ApproveCase
            | CommandKind::RejectCase
            | CommandKind::RefundCase
            | CommandKind::AssignCase
            | CommandKind::ResolveCase
            | CommandKind::CloseCase
            | CommandKind::RecordCaseFollowUp => matches!(self, CustomerService | Admin),
            CommandKind::ReceiveReturn
            | CommandKind::InspectReturn
            | CommandKind::PackReplacement
            | CommandKind::RecordRepairReturned => matches!(self, Warehouse | Admin),
        }
    }
}

/// Commands the owning buyer may issue: another buyer is told "not your order".
pub(super) fn owner_may(kind: CommandKind) -> bool {
    matches!(
        kind,
        CommandKind::ConfirmReceipt
            | CommandKind::Cancel
            | CommandKind::OpenPaymentSession
            | CommandKind::Place
            | CommandKind::OpenCase
            | CommandKind::WithdrawCase
            | CommandKind::RecordReturnParcel
    )
}

/// The transition table's "from" lists, restated.
pub(super) fn allows(kind: CommandKind, status: OrderStatus) -> bool {
    use OrderStatus::*;
    match kind {
        CommandKind::Place => false,
        CommandKind::Approve => matches!(status, AwaitingPayment | UnderReview),
        CommandKind::Hold => matches!(status, AwaitingPayment | UnderReview | OnHold | ReadyToShip),
        CommandKind::ResolveHold => status == OnHold,
        CommandKind::Reject => matches!(status, AwaitingPayment | UnderReview | OnHold),
        CommandKind::OpenPaymentSession => matches!(status, AwaitingPayment | OnHold),
        CommandKind::CapturePayment => matches!(status, AwaitingPayment | OnHold | Cancelled | Rejected),
        CommandKind::RecordPaymentAnomaly
        | CommandKind::RequestRefund
        | CommandKind::CompleteRefund
        | CommandKind::FailRefund
        | CommandKind::RefundUnappliedPayment => true,
        CommandKind::IssuePickList => matches!(status, ReadyToShip | InFulfilment | PartiallyShipped),
        CommandKind::Pack => matches!(status, InFulfilment | PartiallyShipped),
        // Also from delivered/completed: the replacement parcel of an exchange.
        CommandKind::BookShipment | CommandKind::RecordWaybill => {
            matches!(status, InFulfilment | PartiallyShipped | Delivered | Completed)
        }
        CommandKind::PackReplacement => matches!(status, Delivered | Completed),
        // Each case is its own sub-machine, whatever the order's status.
        CommandKind::OpenCase
        | CommandKind::ApproveCase
        | CommandKind::RejectCase
        | CommandKind::WithdrawCase
        | CommandKind::RecordReturnParcel
        | CommandKind::ReceiveReturn
        | CommandKind::InspectReturn
        | CommandKind::RefundCase
        | CommandKind::RecordRepairReturned
        | CommandKind::AssignCase
        | CommandKind::ResolveCase
        | CommandKind::CloseCase
        | CommandKind::EscalateCase
        | CommandKind::CaseFollowUpDue
        | CommandKind::RecordCaseFollowUp => true,
        CommandKind::RecordTracking | CommandKind::CorrectCarrier => {
            matches!(status, Shipped | PartiallyShipped | Delivered | Completed | ReturnedToSender)
        }
        CommandKind::RecordCodCollected => matches!(status, PartiallyShipped | Shipped | Delivered | Completed),
        CommandKind::ConfirmReceipt | CommandKind::AutoConfirm => matches!(status, Shipped | Delivered),
        CommandKind::Cancel => matches!(status, AwaitingPayment | UnderReview | OnHold | ReadyToShip | InFulfilment),
        CommandKind::CancelUnpaid => matches!(status, AwaitingPayment | OnHold),
        CommandKind::CloseAfterSales | CommandKind::FollowUpDue | CommandKind::RecordFollowUp => status == Completed,
    }
}

/// A required text field: 1 to 500 characters after trimming.
pub(super) fn required(text: &str) -> bool {
    (1..=500).contains(&text.trim().chars().count())
}

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Review {
    Pending,
    OnHold,
    Resolved,
    Approved,
    Rejected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RefundState {
    Pending,
    Completed,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MRefund {
    pub(super) id: u32,
    pub(super) amount: i64,
    pub(super) lines: Vec<(u32, i64)>,
    pub(super) shipping: i64,
    pub(super) manual: bool,
    pub(super) state: RefundState,
    /// The after-sales case it pays.
    pub(super) case: Option<u32>,
}

impl MRefund {
    pub(super) fn counts(&self) -> bool {
        self.state != RefundState::Failed
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MTrack {
    pub(super) at: i64,
    pub(super) kind: TrackingKind,
    pub(super) event: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MPackage {
    pub(super) id: u32,
    pub(super) items: Vec<(u32, u32)>,
    pub(super) state: PackageState,
    pub(super) waybill: Option<String>,
    pub(super) tracking: Vec<MTrack>,
    pub(super) delivered_at: Option<i64>,
    /// The exchange case of a replacement parcel (not the order's goods).
    pub(super) case: Option<u32>,
}

/// An after-sales case as the model sees it; `state` is the library's own enum (plain data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MCase {
    pub(super) id: u32,
    pub(super) kind: CaseKind,
    /// Units per line, merged, in line order.
    pub(super) lines: Vec<(u32, u32)>,
    pub(super) state: CaseState,
    pub(super) escalated: bool,
    pub(super) return_waybill: Option<String>,
    pub(super) return_tracking: Vec<MTrack>,
    pub(super) refund: Option<u32>,
    pub(super) replacement: Option<u32>,
    pub(super) repair_waybill: Option<String>,
    pub(super) follow_up_score: Option<u8>,
}

impl MCase {
    pub(super) fn quantity_of(&self, line: u32) -> u32 {
        self.lines.iter().filter(|(l, _)| *l == line).map(|(_, q)| q).sum()
    }

    /// Units it holds: not once rejected or withdrawn; a warranty repair only while open; a
    /// complaint never.
    pub(super) fn holds_units(&self) -> bool {
        match self.kind {
            CaseKind::Complaint => false,
            CaseKind::WarrantyRepair => !case_terminal(&self.state),
            CaseKind::RefundOnly | CaseKind::ReturnAndRefund | CaseKind::Exchange => {
                !matches!(self.state, CaseState::Rejected { .. } | CaseState::Withdrawn)
            }
        }
    }

    pub(super) fn knows_return(&self, update: &TrackingUpdate) -> bool {
        let at = minutes_of(update.at);
        self.return_tracking.iter().any(|t| same_scan(t, update, at))
    }
}

pub(super) fn case_terminal(state: &CaseState) -> bool {
    matches!(state, CaseState::Rejected { .. } | CaseState::Withdrawn | CaseState::Closed)
}

pub(super) fn same_scan(t: &MTrack, update: &TrackingUpdate, at: i64) -> bool {
    if !t.event.is_empty() || !update.event_id.is_empty() {
        t.event == update.event_id
    } else {
        t.kind == update.kind && t.at == at
    }
}

impl MPackage {
    pub(super) fn quantity_of(&self, line: u32) -> u32 {
        self.items.iter().filter(|(l, _)| *l == line).map(|(_, q)| q).sum()
    }

    pub(super) fn knows(&self, update: &TrackingUpdate) -> bool {
        let at = minutes_of(update.at);
        self.tracking.iter().any(|t| same_scan(t, update, at))
    }
}

pub(super) fn left_the_shop(state: PackageState) -> bool {
    !matches!(state, PackageState::Packed | PackageState::Booked)
}

pub(super) fn final_state(state: PackageState) -> bool {
    matches!(state, PackageState::Delivered | PackageState::ReturnedToSender)
}

/// A package's state from its tracking in carrier-time order: a final state is kept.
pub(super) fn fold_tracking(tracking: &[MTrack]) -> (PackageState, Option<i64>) {
    let mut state = PackageState::Shipped;
    let mut delivered_at = None;
    for t in tracking {
        if !final_state(state) {
            state = match t.kind {
                TrackingKind::PickedUp | TrackingKind::InTransit | TrackingKind::Customs | TrackingKind::Rerouted => {
                    PackageState::InTransit
                }
                TrackingKind::OutForDelivery | TrackingKind::AwaitingCollection => PackageState::OutForDelivery,
                TrackingKind::Delivered => PackageState::Delivered,
                TrackingKind::Exception => PackageState::Exception,
                TrackingKind::RefusedAtDoor | TrackingKind::Returning => PackageState::RefusedAtDoor,
                TrackingKind::ReturnedToSender => PackageState::ReturnedToSender,
                _ => unreachable!("a tracking kind the model does not know: {:?}", t.kind),
            };
        }
        if state == PackageState::Delivered && delivered_at.is_none() {
            delivered_at = Some(t.at);
        }
    }
    (state, delivered_at)
}

pub(super) const PAY_BY: usize = 0;
pub(super) const AUTO_CONFIRM: usize = 1;
pub(super) const AFTER_SALES: usize = 2;
pub(super) const FOLLOW_UP: usize = 3;
pub(super) const DEADLINE_KINDS: [DeadlineKind; 4] =
    [DeadlineKind::PayBy, DeadlineKind::AutoConfirm, DeadlineKind::AfterSalesWindow, DeadlineKind::FollowUp];

/// The slot of an order deadline; case deadlines (SLA, follow-up) are kept per case instead.
pub(super) fn slot(kind: DeadlineKind) -> Option<usize> {
    match kind {
        DeadlineKind::PayBy => Some(PAY_BY),
        DeadlineKind::AutoConfirm => Some(AUTO_CONFIRM),
        DeadlineKind::AfterSalesWindow => Some(AFTER_SALES),
        DeadlineKind::FollowUp => Some(FOLLOW_UP),
        DeadlineKind::CaseSla(_) | DeadlineKind::CaseFollowUp(_) => None,
        // The model runs without tracking polls (`poll_tracking_after` is off).
        DeadlineKind::TrackingPoll => None,
    }
}

/// Known library bug, mirrored so the other properties keep running: the delivery of an
/// exchange's replacement parcel (not the order's goods) restarts the order's auto-confirm
/// clock. Set to `false` to assert the specified behaviour; the deterministic regression
/// `a_delivered_replacement_parcel_does_not_restart_auto_confirm` asserts it.
pub(super) const LIBRARY_BUG_REPLACEMENT_RESTARTS_AUTO_CONFIRM: bool = false;

/// Known library bug, mirrored likewise: before receipt is confirmed, a delivered replacement
/// parcel counts as delivered units of the order (`Fulfilment::delivered_quantity` reads every
/// parcel), so cases can claim more units than the order's parcels delivered. Set to `false`
/// to assert the specified bound; `a_delivered_replacement_parcel_adds_no_claimable_units`
/// asserts it.
pub(super) const LIBRARY_BUG_REPLACEMENT_COUNTS_AS_DELIVERED: bool = false;

/// What the model expects of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Refused with `Error::Forbidden`.
    Forbidden,
    /// Refused with `Error::NotYourOrder`.
    NotYourOrder,
    /// Refused for another reason.
    Refused,
    /// Already applied: an empty decision.
    Noop,
    /// Accepted with at least one event.
    Accepted,
}

/// The reference model: the order as the specification sees it. Amounts are CNY minor units,
/// times are minutes after `t0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Model {
    pub(super) cod: bool,
    pub(super) start: Start,
    pub(super) now: i64,
    pub(super) review: Review,
    pub(super) cancelled: bool,
    pub(super) completed: bool,
    pub(super) completed_at: Option<i64>,
    pub(super) captures: Vec<(String, i64)>,
    /// Providers a payment session was opened with, each once, in order.
    pub(super) sessions: Vec<String>,
    pub(super) anomalies: Vec<String>,
    pub(super) cod_collected: Option<i64>,
    pub(super) refunds: Vec<MRefund>,
    pub(super) picking_started: bool,
    pub(super) packages: Vec<MPackage>,
    /// Pay-by, auto-confirm, after-sales window, follow-up.
    pub(super) deadlines: [Option<i64>; 4],
    /// Deadlines of after-sales cases (SLA, follow-up), by kind.
    pub(super) case_deadlines: BTreeMap<DeadlineKind, i64>,
    pub(super) follow_ups: Vec<Option<u8>>,
    pub(super) cases: Vec<MCase>,
}

impl Model {
    pub(super) fn initial(cod: bool, start: Start) -> Model {
        Model {
            cod,
            start,
            now: 0,
            review: match start {
                Start::AutoApproved => Review::Approved,
                Start::ManualReview => Review::Pending,
                Start::HeldAtPlacement => Review::OnHold,
            },
            cancelled: false,
            completed: false,
            completed_at: None,
            captures: Vec::new(),
            sessions: Vec::new(),
            anomalies: Vec::new(),
            cod_collected: None,
            refunds: Vec::new(),
            picking_started: false,
            packages: Vec::new(),
            deadlines: [(!cod).then_some(PAY_WITHIN), None, None, None],
            case_deadlines: BTreeMap::new(),
            follow_ups: Vec::new(),
            cases: Vec::new(),
        }
    }

    /// The model as read off a real order (fields the order does not hold come from `like`).
    pub(super) fn observe(order: &Order, like: &Model) -> Model {
        Model {
            cod: order.payment().method.is_cod(),
            start: like.start,
            now: like.now,
            review: match &order.review() {
                ReviewState::Pending => Review::Pending,
                ReviewState::OnHold { .. } => Review::OnHold,
                ReviewState::HoldResolved { .. } => Review::Resolved,
                ReviewState::Approved => Review::Approved,
                ReviewState::Rejected { .. } => Review::Rejected,
            },
            cancelled: order.cancellation().is_some(),
            completed: order.completion().is_some(),
            completed_at: order.completion().as_ref().map(|c| minutes_of(c.at)),
            captures: order.payment().captures.iter().map(|c| (c.txn_id.clone(), c.amount.minor)).collect(),
            sessions: order.payment().sessions.clone(),
            anomalies: order.payment().anomalies.iter().map(|a| a.txn_id.clone()).collect(),
            cod_collected: order.payment().cod_collected.map(|m| m.minor),
            refunds: order
                .payment()
                .refunds
                .iter()
                .map(|r| MRefund {
                    id: r.id.0,
                    amount: r.amount.minor,
                    lines: r.lines.iter().map(|l| (l.line.0, l.amount.minor)).collect(),
                    shipping: r.shipping.minor,
                    manual: matches!(r.method, RefundMethod::Manual { .. }),
                    state: match r.status {
                        RefundStatus::Pending => RefundState::Pending,
                        RefundStatus::Completed { .. } => RefundState::Completed,
                        RefundStatus::Failed { .. } => RefundState::Failed,
                    },
                    case: r.case.map(|c| c.0),
                })
                .collect(),
            picking_started: order.fulfilment().picking_started.is_some(),
            packages: order
                .fulfilment()
                .packages
                .iter()
                .map(|p| MPackage {
                    id: p.id.0,
                    items: p.items.iter().map(|i| (i.line.0, i.quantity)).collect(),
                    state: p.state,
                    waybill: p.waybill.as_deref().map(str::to_owned),
                    tracking: p
                        .tracking
                        .iter()
                        .map(|t| MTrack { at: minutes_of(t.at), kind: t.kind, event: t.event_id.to_string() })
                        .collect(),
                    delivered_at: p.delivered_at.map(minutes_of),
                    case: p.case.map(|c| c.0),
                })
                .collect(),
            deadlines: DEADLINE_KINDS.map(|k| order.deadlines().get(k).map(minutes_of)),
            case_deadlines: order.deadlines().cases.iter().map(|(k, at)| (*k, minutes_of(*at))).collect(),
            follow_ups: order.follow_ups().iter().map(|f| f.score).collect(),
            cases: order
                .cases()
                .iter()
                .map(|c| MCase {
                    id: c.id.0,
                    kind: c.request.kind,
                    lines: c.request.lines.iter().map(|l| (l.line.0, l.quantity)).collect(),
                    state: c.state.clone(),
                    escalated: c.escalated,
                    return_waybill: c.return_waybill.clone(),
                    return_tracking: c
                        .return_tracking
                        .iter()
                        .map(|t| MTrack { at: minutes_of(t.at), kind: t.kind, event: t.event_id.to_string() })
                        .collect(),
                    refund: c.refund.map(|r| r.0),
                    replacement: c.replacement.map(|p| p.0),
                    repair_waybill: c.repair_waybill.clone(),
                    follow_up_score: c.follow_up_score,
                })
                .collect(),
        }
    }

    pub(super) fn captured(&self) -> i64 {
        self.captures.iter().map(|(_, a)| a).sum()
    }

    pub(super) fn received(&self) -> i64 {
        self.captured() + self.cod_collected.unwrap_or(0)
    }

    pub(super) fn refunded(&self) -> i64 {
        self.refunds.iter().filter(|r| r.counts()).map(|r| r.amount).sum()
    }

    pub(super) fn refunded_line(&self, line: u32) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.counts())
            .flat_map(|r| &r.lines)
            .filter(|(l, _)| *l == line)
            .map(|(_, a)| a)
            .sum()
    }

    pub(super) fn refunded_shipping(&self) -> i64 {
        self.refunds.iter().filter(|r| r.counts()).map(|r| r.shipping).sum()
    }

    pub(super) fn outstanding(&self) -> i64 {
        cat().total - self.captured()
    }

    pub(super) fn gate_open(&self) -> bool {
        self.cod || self.outstanding() <= 0
    }

    pub(super) fn ready(&self) -> bool {
        self.review == Review::Approved && self.gate_open() && !self.cancelled
    }

    /// The order's own parcels: replacement parcels of exchanges are not the order's goods.
    pub(super) fn order_packages(&self) -> impl Iterator<Item = &MPackage> {
        self.packages.iter().filter(|p| p.case.is_none())
    }

    pub(super) fn packed(&self, line: u32) -> u32 {
        self.order_packages().map(|p| p.quantity_of(line)).sum()
    }

    pub(super) fn shipped(&self, line: u32) -> u32 {
        self.order_packages().filter(|p| left_the_shop(p.state)).map(|p| p.quantity_of(line)).sum()
    }

    pub(super) fn delivered(&self, line: u32) -> u32 {
        self.packages
            .iter()
            .filter(|p| p.case.is_none() || LIBRARY_BUG_REPLACEMENT_COUNTS_AS_DELIVERED)
            .filter(|p| p.state == PackageState::Delivered)
            .map(|p| p.quantity_of(line))
            .sum()
    }

    /// Units of `line` the buyer has received: delivered, or shipped once receipt is confirmed.
    pub(super) fn received_units(&self, line: u32) -> u32 {
        if self.completed { self.shipped(line) } else { self.delivered(line) }
    }

    pub(super) fn held_by_cases(&self, line: u32) -> u32 {
        self.cases.iter().filter(|c| c.holds_units()).map(|c| c.quantity_of(line)).sum()
    }

    pub(super) fn any_received(&self) -> bool {
        cat().lines.iter().any(|l| self.received_units(l.id) > 0)
    }

    pub(super) fn claimable(&self, line: u32) -> u32 {
        self.received_units(line).saturating_sub(self.held_by_cases(line))
    }

    pub(super) fn case(&self, id: u32) -> Option<&MCase> {
        self.cases.iter().find(|c| c.id == id)
    }

    pub(super) fn case_mut(&mut self, id: u32) -> Option<&mut MCase> {
        self.cases.iter_mut().find(|c| c.id == id)
    }

    /// Whether a case of `kind` may claim units of `line` now: the goods arrived, and the
    /// return window (7 days after receipt is confirmed) or the SKU's warranty (from delivery
    /// or confirmation) still runs.
    pub(super) fn within_window(&self, kind: CaseKind, line: u32) -> bool {
        let delivered_at = self.order_packages().filter_map(|p| p.delivered_at).max();
        let Some(received) = self.completed_at.or(delivered_at) else {
            return false;
        };
        let sku = cat().line(line).map_or("", |l| l.sku.as_str());
        match kind {
            CaseKind::RefundOnly | CaseKind::ReturnAndRefund | CaseKind::Exchange => {
                self.completed_at.is_none_or(|at| self.now <= at + AFTER_SALES_WINDOW)
            }
            CaseKind::WarrantyRepair => sku == WARRANTY_SKU && self.now <= received + WARRANTY,
            CaseKind::Complaint => true,
        }
    }

    /// A case's refund: each line's share of its payable for the case's units, at most what
    /// is left of the line; the shipping fee's remainder when the whole order is then refunded.
    pub(super) fn case_refund(&self, case: &MCase) -> (Vec<LineRefund>, Money) {
        let mut parts = Vec::new();
        let mut fully = BTreeMap::new();
        for (id, units) in &case.lines {
            let Some(line) = cat().line(*id) else { continue };
            let share = line.payable * i64::from(*units) / i64::from(line.quantity.max(1));
            let open = line.payable - self.refunded_line(*id);
            let amount = share.min(open).max(0);
            fully.insert(*id, amount == open);
            if amount > 0 {
                parts.push(LineRefund { line: LineId(*id), amount: cny(amount) });
            }
        }
        let everything =
            cat().lines.iter().all(|l| fully.get(&l.id).copied().unwrap_or(self.refunded_line(l.id) == l.payable));
        let shipping = if everything { (cat().shipping_fee - self.refunded_shipping()).max(0) } else { 0 };
        (parts, cny(shipping))
    }

    pub(super) fn waybill_in_use(&self, waybill: &str) -> bool {
        self.packages.iter().any(|p| p.waybill.as_deref() == Some(waybill))
            || self.cases.iter().any(|c| c.return_waybill.as_deref() == Some(waybill))
    }

    pub(super) fn remaining(&self, line: u32) -> u32 {
        cat().line(line).map_or(0, |l| l.quantity.saturating_sub(self.packed(line)))
    }

    pub(super) fn all_shipped(&self) -> bool {
        cat().lines.iter().all(|l| self.shipped(l.id) >= l.quantity)
    }

    pub(super) fn any_shipped(&self) -> bool {
        self.order_packages().any(|p| left_the_shop(p.state))
    }

    pub(super) fn any_booked(&self) -> bool {
        self.order_packages().any(|p| p.state != PackageState::Packed)
    }

    pub(super) fn package(&self, id: u32) -> Option<&MPackage> {
        self.packages.iter().find(|p| p.id == id)
    }

    pub(super) fn package_by_waybill(&self, waybill: &str) -> Option<&MPackage> {
        self.packages.iter().find(|p| p.waybill.as_deref() == Some(waybill))
    }

    pub(super) fn refund(&self, id: u32) -> Option<&MRefund> {
        self.refunds.iter().find(|r| r.id == id)
    }

    pub(super) fn knows_txn(&self, txn: &str) -> bool {
        self.captures.iter().any(|(t, _)| t == txn) || self.anomalies.iter().any(|t| t == txn)
    }

    pub(super) fn due(&self) -> Vec<DeadlineKind> {
        DEADLINE_KINDS
            .into_iter()
            .chain(self.case_deadlines.keys().copied())
            .filter(|k| self.deadline(*k).is_some_and(|at| at <= self.now))
            .collect()
    }

    pub(super) fn deadline(&self, kind: DeadlineKind) -> Option<i64> {
        match slot(kind) {
            Some(i) => self.deadlines[i],
            None => self.case_deadlines.get(&kind).copied(),
        }
    }

    pub(super) fn set_deadline(&mut self, kind: DeadlineKind, at: Option<i64>) {
        match (slot(kind), at) {
            (Some(i), _) => self.deadlines[i] = at,
            (None, Some(at)) => {
                self.case_deadlines.insert(kind, at);
            }
            (None, None) => {
                self.case_deadlines.remove(&kind);
            }
        }
    }

    /// The summary status, from the specification of each status.
    pub(super) fn status(&self) -> OrderStatus {
        if self.cancelled {
            return if self.review == Review::Rejected { OrderStatus::Rejected } else { OrderStatus::Cancelled };
        }
        if self.completed {
            return OrderStatus::Completed;
        }
        if self.all_shipped() {
            if self.order_packages().all(|p| p.state == PackageState::ReturnedToSender) {
                return OrderStatus::ReturnedToSender;
            }
            if self.order_packages().filter(|p| left_the_shop(p.state)).all(|p| p.state == PackageState::Delivered) {
                return OrderStatus::Delivered;
            }
            return OrderStatus::Shipped;
        }
        if self.any_shipped() {
            return OrderStatus::PartiallyShipped;
        }
        if self.review == Review::OnHold {
            return OrderStatus::OnHold;
        }
        if !self.gate_open() {
            return OrderStatus::AwaitingPayment;
        }
        if self.review != Review::Approved {
            return OrderStatus::UnderReview;
        }
        if self.picking_started { OrderStatus::InFulfilment } else { OrderStatus::ReadyToShip }
    }

    pub(super) fn already_applied(&self, action: &Action) -> bool {
        match action {
            Action::CapturePayment { txn_id, .. } | Action::RecordPaymentAnomaly { txn_id, .. } => {
                self.knows_txn(txn_id)
            }
            Action::RecordWaybill { package, waybill } => {
                self.package(package.0).is_some_and(|p| p.waybill.as_deref() == Some(waybill.trim()))
            }
            Action::RecordTracking { waybill, update } => {
                self.package_by_waybill(waybill.trim()).is_some_and(|p| p.knows(update))
                    || self
                        .cases
                        .iter()
                        .any(|c| c.return_waybill.as_deref() == Some(waybill.trim()) && c.knows_return(update))
            }
            Action::RecordReturnParcel { case, waybill } => {
                self.case(case.0).is_some_and(|c| c.return_waybill.as_deref() == Some(waybill.trim()))
            }
            Action::CompleteRefund { refund, .. } => {
                self.refund(refund.0).is_some_and(|r| r.state == RefundState::Completed)
            }
            Action::FailRefund { refund, .. } => self.refund(refund.0).is_some_and(|r| r.state == RefundState::Failed),
            Action::RecordCodCollected { amount } => {
                amount.currency == Currency::CNY && self.cod_collected == Some(amount.minor)
            }
            // Opening a session already opened records nothing, while one can still be opened.
            Action::OpenPaymentSession { provider } => {
                self.takes_session(provider) && self.sessions.iter().any(|s| s == provider.trim())
            }
            _ => false,
        }
    }

    /// Per-line refund amounts merged by line, or `None` when a part is unknown, negative or
    /// in another currency.
    pub(super) fn merged_refund_lines(lines: &[LineRefund]) -> Option<BTreeMap<u32, i64>> {
        let mut merged = BTreeMap::new();
        for part in lines {
            cat().line(part.line.0)?;
            if part.amount.minor < 0 || part.amount.currency != Currency::CNY {
                return None;
            }
            *merged.entry(part.line.0).or_insert(0) += part.amount.minor;
        }
        Some(merged)
    }

    pub(super) fn refund_ok(&self, lines: &[LineRefund], shipping: Money, reason: &str, manual: Option<&str>) -> bool {
        if !required(reason) {
            return false;
        }
        let method_ok = match (self.cod, manual.map(str::trim)) {
            (true, Some(reference)) => !reference.is_empty(),
            (true, None) | (false, Some(_)) => false,
            (false, None) => true,
        };
        let Some(merged) = Model::merged_refund_lines(lines) else {
            return false;
        };
        if !method_ok || shipping.currency != Currency::CNY || shipping.minor < 0 {
            return false;
        }
        let lines_ok = merged
            .iter()
            .all(|(id, amount)| *amount <= cat().line(*id).map_or(0, |l| l.payable) - self.refunded_line(*id));
        let total = shipping.minor + merged.values().sum::<i64>();
        lines_ok
            && shipping.minor <= cat().shipping_fee - self.refunded_shipping()
            && total > 0
            && total <= self.received() - self.refunded()
    }

    /// The parcel as verified against the scans, or `None` when they do not match.
    pub(super) fn verified_parcel(&self, items: &[PackageItem], scanned: &[ScannedItem]) -> Option<Vec<(u32, u32)>> {
        let mut expected: BTreeMap<u32, u32> = BTreeMap::new();
        for item in items {
            cat().line(item.line.0)?;
            let sum = expected.entry(item.line.0).or_insert(0);
            *sum = sum.saturating_add(item.quantity);
        }
        if expected.iter().any(|(id, want)| *want > self.remaining(*id)) {
            return None;
        }
        Model::scans_match(expected, scanned)
    }

    /// The items when the scans match `expected` units per line exactly, else `None`.
    pub(super) fn scans_match(mut expected: BTreeMap<u32, u32>, scanned: &[ScannedItem]) -> Option<Vec<(u32, u32)>> {
        expected.retain(|_, q| *q > 0);
        if expected.is_empty() {
            return None;
        }
        let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
        for scan in scanned {
            let line = cat()
                .lines
                .iter()
                .filter(|l| expected.contains_key(&l.id) && l.sku == scan.sku.trim())
                .find(|l| l.variant == scan.variant)?;
            if line.name != scan.product_name.trim() {
                return None;
            }
            let sum = seen.entry(line.id).or_insert(0);
            *sum = sum.saturating_add(scan.quantity);
        }
        let fits = expected.iter().all(|(id, want)| seen.get(id).copied().unwrap_or(0) == *want);
        fits.then(|| expected.into_iter().collect())
    }

    /// What happens to `action` by `who` now.
    pub(super) fn verdict(&self, who: Who, action: &Action) -> Verdict {
        let kind = action.kind();
        if !who.may(kind) {
            return if who == Who::Mallory && owner_may(kind) { Verdict::NotYourOrder } else { Verdict::Forbidden };
        }
        if self.already_applied(action) {
            return Verdict::Noop;
        }
        let accepted = match action {
            // A due deadline is either acted on or, when the order has moved on, lapses.
            Action::FireDeadline { kind } => self.deadline(*kind).is_some_and(|at| at <= self.now),
            _ if !allows(kind, self.status()) => false,
            Action::Approve { .. } => matches!(self.review, Review::Pending | Review::Resolved),
            Action::Hold { reasons, .. } => !reasons.is_empty(),
            Action::ResolveHold { contact_note } => required(contact_note),
            Action::Reject { reason } | Action::Cancel { reason } => {
                required(reason) && !(kind == CommandKind::Cancel && self.any_booked())
            }
            Action::CapturePayment { txn_id, amount } => {
                required(txn_id)
                    && amount.minor > 0
                    && amount.currency == Currency::CNY
                    && !self.cod
                    && (self.cancelled || amount.minor <= self.outstanding())
            }
            Action::RecordPaymentAnomaly { txn_id, .. } => required(txn_id),
            Action::OpenPaymentSession { provider } => self.takes_session(provider),
            // Not generated: the model holds unapplied payments and keeps no record of their
            // refunds (tested on its own in core_stages.rs).
            Action::RefundUnappliedPayment { .. } => false,
            Action::RequestRefund { lines, shipping, reason, manual_reference } => {
                self.refund_ok(lines, *shipping, reason, manual_reference.as_deref())
            }
            Action::CompleteRefund { refund, .. } => {
                self.refund(refund.0).is_some_and(|r| r.state != RefundState::Failed)
            }
            Action::FailRefund { refund, .. } => {
                self.refund(refund.0).is_some_and(|r| r.state != RefundState::Completed)
            }
            Action::IssuePickList => self.ready() && cat().lines.iter().any(|l| self.remaining(l.id) > 0),
            Action::Pack { items, scanned } => self.ready() && self.verified_parcel(items, scanned).is_some(),
            Action::BookShipment { package, carrier, .. } => {
                self.ready()
                    && required(carrier)
                    && self.package(package.0).is_some_and(|p| p.state == PackageState::Packed && self.may_ship(p))
            }
            Action::RecordWaybill { package, waybill } => {
                required(waybill)
                    && self.package(package.0).is_some_and(|p| p.state == PackageState::Booked && self.may_ship(p))
                    && self.package_by_waybill(waybill.trim()).is_none()
            }
            // The model keeps no carriers: a correction only needs a shipped parcel's waybill.
            Action::CorrectCarrier { waybill, carrier } => {
                required(carrier) && self.package_by_waybill(waybill.trim()).is_some()
            }
            Action::RecordTracking { waybill, .. } => {
                self.package_by_waybill(waybill.trim()).is_some()
                    || self.cases.iter().any(|c| c.return_waybill.as_deref() == Some(waybill.trim()))
            }
            Action::RecordCodCollected { amount } => self.cod && *amount == cny(cat().total),
            Action::ConfirmReceipt => self.all_shipped(),
            Action::RecordFollowUp { score, .. } => (1..=5).contains(score),
            Action::OpenCase { request } => self.open_ok(request),
            Action::ApproveCase { case } => {
                self.case_in(*case, |c| c.state == CaseState::Requested && c.kind != CaseKind::Complaint)
            }
            Action::RejectCase { case, reason } => {
                required(reason)
                    && self.case_in(*case, |c| {
                        matches!(c.state, CaseState::Requested | CaseState::Inspected { passed: false, .. })
                    })
            }
            Action::WithdrawCase { case } => self.case_in(*case, |c| c.state == CaseState::Requested),
            Action::RecordReturnParcel { case, waybill } => {
                required(waybill)
                    && self.case_in(*case, |c| c.state == CaseState::AwaitingReturn)
                    && !self.waybill_in_use(waybill.trim())
            }
            Action::ReceiveReturn { case } => self.case_in(*case, |c| c.state == CaseState::AwaitingReturn),
            Action::InspectReturn { case, passed, note } => {
                (*passed || required(note)) && self.case_in(*case, |c| c.state == CaseState::Received)
            }
            Action::RefundCase { case, manual_reference } => self.case(case.0).is_some_and(|c| {
                let ready = match c.kind {
                    CaseKind::RefundOnly => c.state == CaseState::Approved,
                    CaseKind::ReturnAndRefund => matches!(c.state, CaseState::Inspected { passed: true, .. }),
                    CaseKind::Exchange | CaseKind::WarrantyRepair | CaseKind::Complaint => false,
                };
                let (lines, shipping) = self.case_refund(c);
                ready && self.refund_ok(&lines, shipping, "after-sales case", manual_reference.as_deref())
            }),
            Action::PackReplacement { case, scanned } => self.case(case.0).is_some_and(|c| {
                c.kind == CaseKind::Exchange
                    && c.replacement.is_none()
                    && matches!(c.state, CaseState::Inspected { passed: true, .. })
                    && Model::scans_match(c.lines.iter().copied().collect(), scanned).is_some()
            }),
            Action::RecordRepairReturned { case, waybill } => {
                required(waybill)
                    && self.case_in(*case, |c| {
                        c.kind == CaseKind::WarrantyRepair
                            && matches!(c.state, CaseState::Inspected { passed: true, .. })
                    })
            }
            Action::AssignCase { case, .. } => self.case_in(*case, |c| {
                c.kind == CaseKind::Complaint && matches!(c.state, CaseState::Requested | CaseState::InProgress { .. })
            }),
            Action::ResolveCase { case, resolution } => {
                required(resolution) && self.case_in(*case, |c| matches!(c.state, CaseState::InProgress { .. }))
            }
            Action::CloseCase { case } => self.case_in(*case, |c| {
                matches!(
                    c.state,
                    CaseState::Refunded
                        | CaseState::ReplacementShipped
                        | CaseState::RepairedAndReturned
                        | CaseState::Inspected { passed: false, .. }
                )
            }),
            Action::RecordCaseFollowUp { case, score, .. } => {
                (1..=5).contains(score)
                    && self.case_in(*case, |c| {
                        c.follow_up_score.is_none() && matches!(c.state, CaseState::Closed | CaseState::Resolved { .. })
                    })
            }
        };
        if accepted { Verdict::Accepted } else { Verdict::Refused }
    }

    /// An online order that still owes money, where nothing is over, takes a session with a
    /// named provider.
    pub(super) fn takes_session(&self, provider: &str) -> bool {
        allows(CommandKind::OpenPaymentSession, self.status())
            && !self.cod
            && self.outstanding() > 0
            && required(provider)
            && !provider.chars().any(char::is_control)
    }

    pub(super) fn case_in(&self, case: CaseId, allowed: impl Fn(&MCase) -> bool) -> bool {
        self.case(case.0).is_some_and(allowed)
    }

    /// An order parcel ships only until the order is delivered; a replacement parcel after.
    pub(super) fn may_ship(&self, parcel: &MPackage) -> bool {
        parcel.case.is_some() || !matches!(self.status(), OrderStatus::Delivered | OrderStatus::Completed)
    }

    /// A new case: a reason code, bounded text and evidence, known lines with units; unless a
    /// complaint, at least one line, each within its window and its claimable units.
    pub(super) fn open_ok(&self, request: &CaseRequest) -> bool {
        let text_ok = required(&request.reason_code)
            && request.text.chars().count() <= 2_000
            && request.evidence.len() <= 10
            && request.evidence.iter().all(|e| e.chars().count() <= 500);
        let Some(lines) = Model::case_lines(&request.lines) else {
            return false;
        };
        text_ok
            && (request.kind == CaseKind::Complaint
                || (!lines.is_empty()
                    && lines
                        .iter()
                        .all(|(id, units)| self.within_window(request.kind, *id) && *units <= self.claimable(*id))))
    }

    /// Units per line merged, or `None` for an unknown line or zero units.
    pub(super) fn case_lines(lines: &[CaseLine]) -> Option<BTreeMap<u32, u32>> {
        let mut merged = BTreeMap::new();
        for part in lines {
            cat().line(part.line.0)?;
            if part.quantity == 0 {
                return None;
            }
            let sum = merged.entry(part.line.0).or_insert(0u32);
            *sum = sum.saturating_add(part.quantity);
        }
        Some(merged)
    }

    /// A case command answers the buyer: the answer SLA stops.
    pub(super) fn answered(&mut self, case: u32) {
        self.case_deadlines.remove(&DeadlineKind::CaseSla(CaseId(case)));
    }

    pub(super) fn next_refund_id(&self) -> u32 {
        self.refunds.iter().map(|r| r.id).max().unwrap_or(0) + 1
    }

    /// Cancellation or rejection: deadlines go, and an online order's money goes back,
    /// allocated to lines first, then shipping; any excess stays unallocated.
    pub(super) fn wind_down(&mut self) {
        let refundable = self.received() - self.refunded();
        self.cancelled = true;
        self.deadlines = [None; 4];
        self.case_deadlines.clear();
        if self.cod || refundable <= 0 {
            return;
        }
        let mut left = refundable;
        let mut lines = Vec::new();
        for line in &cat().lines {
            let take = (line.payable - self.refunded_line(line.id)).min(left);
            if take > 0 {
                lines.push((line.id, take));
                left -= take;
            }
        }
        let shipping = (cat().shipping_fee - self.refunded_shipping()).min(left).max(0);
        let id = self.next_refund_id();
        self.refunds.push(MRefund {
            id,
            amount: refundable,
            lines,
            shipping,
            manual: false,
            state: RefundState::Pending,
            case: None,
        });
    }

    pub(super) fn complete(&mut self) {
        self.completed = true;
        self.completed_at = Some(self.now);
        self.deadlines[AUTO_CONFIRM] = None;
        self.deadlines[AFTER_SALES] = Some(self.now + AFTER_SALES_WINDOW);
        self.deadlines[FOLLOW_UP] = Some(self.now + FOLLOW_UP_AFTER);
    }

    /// Applies an accepted command.
    pub(super) fn apply(&mut self, action: &Action) {
        let status = self.status();
        match action {
            Action::Approve { .. } => self.review = Review::Approved,
            Action::Hold { .. } => self.review = Review::OnHold,
            Action::ResolveHold { .. } => self.review = Review::Resolved,
            Action::Reject { .. } => {
                self.review = Review::Rejected;
                self.wind_down();
            }
            Action::CapturePayment { txn_id, amount } => {
                self.captures.push((txn_id.clone(), amount.minor));
                if self.cancelled {
                    let id = self.next_refund_id();
                    self.refunds.push(MRefund {
                        id,
                        amount: amount.minor,
                        lines: Vec::new(),
                        shipping: 0,
                        manual: false,
                        state: RefundState::Pending,
                        case: None,
                    });
                } else if self.gate_open() {
                    self.deadlines[PAY_BY] = None;
                }
            }
            Action::RecordPaymentAnomaly { txn_id, .. } => self.anomalies.push(txn_id.clone()),
            Action::OpenPaymentSession { provider } => self.sessions.push(provider.trim().to_owned()),
            // Neither changes what the model keeps.
            Action::RefundUnappliedPayment { .. } | Action::CorrectCarrier { .. } => {}
            Action::RequestRefund { lines, shipping, .. } => {
                let merged = Model::merged_refund_lines(lines).unwrap_or_default();
                let id = self.next_refund_id();
                self.refunds.push(MRefund {
                    id,
                    amount: shipping.minor + merged.values().sum::<i64>(),
                    lines: merged.into_iter().collect(),
                    shipping: shipping.minor,
                    manual: self.cod,
                    state: if self.cod { RefundState::Completed } else { RefundState::Pending },
                    case: None,
                });
            }
            Action::CompleteRefund { refund, .. } | Action::FailRefund { refund, .. } => {
                let state = if matches!(action, Action::CompleteRefund { .. }) {
                    RefundState::Completed
                } else {
                    RefundState::Failed
                };
                if let Some(r) = self.refunds.iter_mut().find(|r| r.id == refund.0) {
                    r.state = state;
                }
            }
            Action::IssuePickList => self.picking_started = true,
            Action::Pack { items, scanned } => {
                let items = self.verified_parcel(items, scanned).unwrap_or_default();
                let id = self.packages.iter().map(|p| p.id).max().unwrap_or(0) + 1;
                self.packages.push(MPackage {
                    id,
                    items,
                    state: PackageState::Packed,
                    waybill: None,
                    tracking: Vec::new(),
                    delivered_at: None,
                    case: None,
                });
            }
            Action::BookShipment { package, .. } => {
                if let Some(p) = self.packages.iter_mut().find(|p| p.id == package.0) {
                    p.state = PackageState::Booked;
                }
            }
            Action::RecordWaybill { package, waybill } => {
                let last_to_ship = self.package(package.0).is_some_and(|parcel| {
                    parcel.case.is_none()
                        && cat().lines.iter().all(|l| self.shipped(l.id) + parcel.quantity_of(l.id) >= l.quantity)
                });
                let mut replacement_for = None;
                if let Some(p) = self.packages.iter_mut().find(|p| p.id == package.0) {
                    p.state = PackageState::Shipped;
                    p.waybill = Some(waybill.trim().to_owned());
                    replacement_for = p.case;
                }
                // The replacement of an exchange has shipped.
                if let Some(c) = replacement_for.and_then(|c| self.case_mut(c)) {
                    c.state = CaseState::ReplacementShipped;
                }
                if last_to_ship {
                    self.deadlines[AUTO_CONFIRM] = Some(self.now + AUTO_CONFIRM_AFTER_SHIPPING);
                }
            }
            Action::RecordTracking { waybill, update } => self.track(waybill.trim(), update),
            Action::RecordCodCollected { amount } => self.cod_collected = Some(amount.minor),
            Action::ConfirmReceipt => self.complete(),
            Action::Cancel { .. } => self.wind_down(),
            Action::FireDeadline { kind } => {
                if !allows(action.kind(), status) {
                    self.set_deadline(*kind, None);
                    return;
                }
                match kind {
                    DeadlineKind::PayBy => self.wind_down(),
                    DeadlineKind::AutoConfirm => self.complete(),
                    DeadlineKind::AfterSalesWindow => self.deadlines[AFTER_SALES] = None,
                    DeadlineKind::FollowUp => {
                        self.deadlines[FOLLOW_UP] = None;
                        self.follow_ups.push(None);
                    }
                    DeadlineKind::CaseSla(case) => {
                        self.case_deadlines.remove(kind);
                        if let Some(c) = self.case_mut(case.0).filter(|c| c.state == CaseState::Requested) {
                            c.escalated = true;
                        }
                    }
                    DeadlineKind::CaseFollowUp(_) => {
                        self.case_deadlines.remove(kind);
                    }
                    // Never set: the model runs without tracking polls.
                    DeadlineKind::TrackingPoll => {}
                }
            }
            Action::RecordFollowUp { score, .. } => match self.follow_ups.iter_mut().rev().find(|f| f.is_none()) {
                Some(open) => *open = Some(*score),
                None => self.follow_ups.push(Some(*score)),
            },
            Action::OpenCase { request } => {
                let id = self.cases.iter().map(|c| c.id).max().unwrap_or(0) + 1;
                let lines = Model::case_lines(&request.lines).unwrap_or_default();
                self.cases.push(MCase {
                    id,
                    kind: request.kind,
                    lines: lines.into_iter().collect(),
                    state: CaseState::Requested,
                    escalated: false,
                    return_waybill: None,
                    return_tracking: Vec::new(),
                    refund: None,
                    replacement: None,
                    repair_waybill: None,
                    follow_up_score: None,
                });
                self.case_deadlines.insert(DeadlineKind::CaseSla(CaseId(id)), self.now + CASE_ANSWER_WITHIN);
            }
            Action::RefundCase { case, .. } => {
                let Some(c) = self.case(case.0) else { return };
                let (lines, shipping) = self.case_refund(c);
                let id = self.next_refund_id();
                self.refunds.push(MRefund {
                    id,
                    amount: shipping.minor + lines.iter().map(|l| l.amount.minor).sum::<i64>(),
                    lines: lines.iter().map(|l| (l.line.0, l.amount.minor)).collect(),
                    shipping: shipping.minor,
                    manual: self.cod,
                    state: if self.cod { RefundState::Completed } else { RefundState::Pending },
                    case: Some(case.0),
                });
                if let Some(c) = self.case_mut(case.0) {
                    c.state = CaseState::Refunded;
                    c.refund = Some(id);
                }
            }
            Action::PackReplacement { case, .. } => {
                let package = self.packages.iter().map(|p| p.id).max().unwrap_or(0) + 1;
                let Some(c) = self.case_mut(case.0) else { return };
                c.replacement = Some(package);
                let items = c.lines.clone();
                self.packages.push(MPackage {
                    id: package,
                    items,
                    state: PackageState::Packed,
                    waybill: None,
                    tracking: Vec::new(),
                    delivered_at: None,
                    case: Some(case.0),
                });
                self.answered(case.0);
            }
            Action::ApproveCase { case }
            | Action::RejectCase { case, .. }
            | Action::WithdrawCase { case }
            | Action::RecordReturnParcel { case, .. }
            | Action::ReceiveReturn { case }
            | Action::InspectReturn { case, .. }
            | Action::RecordRepairReturned { case, .. }
            | Action::AssignCase { case, .. }
            | Action::ResolveCase { case, .. }
            | Action::CloseCase { case }
            | Action::RecordCaseFollowUp { case, .. } => {
                self.answered(case.0);
                let now = self.now;
                let follow_up = DeadlineKind::CaseFollowUp(*case);
                let mut follow_up_at = None;
                let Some(c) = self.case_mut(case.0) else { return };
                match action {
                    Action::ApproveCase { .. } => {
                        c.state = if matches!(c.kind, CaseKind::RefundOnly | CaseKind::Complaint) {
                            CaseState::Approved
                        } else {
                            CaseState::AwaitingReturn
                        };
                    }
                    Action::RejectCase { reason, .. } => c.state = CaseState::Rejected { reason: reason.trim().into() },
                    Action::WithdrawCase { .. } => c.state = CaseState::Withdrawn,
                    Action::RecordReturnParcel { waybill, .. } => c.return_waybill = Some(waybill.trim().into()),
                    Action::ReceiveReturn { .. } => c.state = CaseState::Received,
                    Action::InspectReturn { passed, note, .. } => {
                        c.state = CaseState::Inspected { passed: *passed, note: note.trim().into() };
                    }
                    Action::RecordRepairReturned { waybill, .. } => {
                        c.state = CaseState::RepairedAndReturned;
                        c.repair_waybill = Some(waybill.trim().into());
                    }
                    Action::AssignCase { assignee, .. } => {
                        c.state = CaseState::InProgress { assignee: assignee.clone() }
                    }
                    Action::ResolveCase { resolution, .. } => {
                        c.state = CaseState::Resolved { resolution: resolution.trim().into() };
                        follow_up_at = Some(Some(now + FOLLOW_UP_AFTER));
                    }
                    Action::CloseCase { .. } => {
                        c.state = CaseState::Closed;
                        follow_up_at = Some(Some(now + FOLLOW_UP_AFTER));
                    }
                    Action::RecordCaseFollowUp { score, .. } => {
                        c.follow_up_score = Some(*score);
                        // A complaint closes after its follow-up.
                        if matches!(c.state, CaseState::Resolved { .. }) {
                            c.state = CaseState::Closed;
                        }
                        follow_up_at = Some(None);
                    }
                    _ => {}
                }
                if let Some(at) = follow_up_at {
                    self.set_deadline(follow_up, at);
                }
            }
        }
    }

    /// A tracking update: kept in carrier-time order (a late update goes before later ones);
    /// a parcel already delivered or returned keeps that state (a late, older scan only joins
    /// its history); delivery of the last parcel starts the auto-confirm clock, a parcel
    /// refused at the door or returned stops it.
    pub(super) fn track(&mut self, waybill: &str, update: &TrackingUpdate) {
        let Some(index) = self.packages.iter().position(|p| p.waybill.as_deref() == Some(waybill)) else {
            // The buyer's return parcel of a case: its scans are kept in carrier-time order.
            let at = minutes_of(update.at);
            let Some(c) = self.cases.iter_mut().find(|c| c.return_waybill.as_deref() == Some(waybill)) else {
                return;
            };
            let position = c.return_tracking.partition_point(|t| t.at <= at);
            c.return_tracking.insert(position, MTrack { at, kind: update.kind, event: update.event_id.to_string() });
            let id = c.id;
            self.answered(id);
            return;
        };
        let before = self.packages[index].state;
        let mut parcel = self.packages[index].clone();
        let at = minutes_of(update.at);
        let position = parcel.tracking.partition_point(|t| t.at <= at);
        parcel.tracking.insert(position, MTrack { at, kind: update.kind, event: update.event_id.to_string() });
        let (state, delivered_at) =
            if final_state(before) { (before, parcel.delivered_at) } else { fold_tracking(&parcel.tracking) };
        parcel.state = state;
        parcel.delivered_at = delivered_at;
        // A replacement parcel is not the order's goods: the order's deadlines stay (but see
        // `LIBRARY_BUG_REPLACEMENT_RESTARTS_AUTO_CONFIRM`).
        let counts = parcel.case.is_none() || LIBRARY_BUG_REPLACEMENT_RESTARTS_AUTO_CONFIRM;
        if !self.completed && !self.cancelled && counts {
            let id = parcel.id;
            let others_delivered = self
                .order_packages()
                .filter(|p| p.id != id && left_the_shop(p.state))
                .all(|p| p.state == PackageState::Delivered);
            let all_shipped = self.all_shipped();
            if state == PackageState::Delivered && before != PackageState::Delivered && others_delivered && all_shipped
            {
                let base = delivered_at.unwrap_or(self.now).max(self.now);
                self.deadlines[AUTO_CONFIRM] = Some(base + AUTO_CONFIRM_AFTER_DELIVERY);
            }
            let refused = |s: PackageState| matches!(s, PackageState::RefusedAtDoor | PackageState::ReturnedToSender);
            if refused(state) && !refused(before) && parcel.case.is_none() {
                self.deadlines[AUTO_CONFIRM] = None;
            }
        }
        self.packages[index] = parcel;
    }
}
