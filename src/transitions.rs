//! The transition and permission tables: data the code consults, and the source of the state
//! diagram in the docs ([`mermaid`]), so the picture cannot drift from the behaviour.
//!
//! A command is allowed from the statuses in its `from` list; when it succeeds the order ends
//! in one of the `to` statuses or stays where it was. Sub-machine rules (e.g. "resolve the hold
//! before approving") are checked on top of this table by [`crate::Workflow::decide`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::actor::{Allowed, Role};
use crate::command::CommandKind;
use crate::order::OrderStatus;

use OrderStatus::{
    AwaitingPayment, Cancelled, Completed, Delivered, InFulfilment, OnHold, PartiallyShipped, ReadyToShip, Rejected,
    ReturnedToSender, Shipped, UnderReview,
};

/// One row of the transition table.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    /// The command.
    pub command: CommandKind,
    /// Statuses it is allowed from (empty for placement: the order does not exist yet).
    pub from: &'static [OrderStatus],
    /// Statuses it may lead to (besides staying put).
    pub to: &'static [OrderStatus],
}

const ALL: &[OrderStatus] = &OrderStatus::ALL;

const fn row(command: CommandKind, from: &'static [OrderStatus], to: &'static [OrderStatus]) -> Transition {
    Transition { command, from, to }
}

/// Every command's transitions. A command may have several rows when it leads to different
/// places from different statuses.
pub const TRANSITIONS: &[Transition] = &[
    row(CommandKind::Place, &[], &[AwaitingPayment, UnderReview, OnHold, ReadyToShip]),
    row(CommandKind::Approve, &[AwaitingPayment], &[]),
    row(CommandKind::Approve, &[UnderReview], &[ReadyToShip]),
    row(CommandKind::Hold, &[AwaitingPayment, UnderReview, OnHold, ReadyToShip], &[OnHold]),
    row(CommandKind::ResolveHold, &[OnHold], &[AwaitingPayment, UnderReview]),
    row(CommandKind::Reject, &[AwaitingPayment, UnderReview, OnHold], &[Rejected]),
    row(CommandKind::CapturePayment, &[AwaitingPayment], &[UnderReview, ReadyToShip]),
    row(CommandKind::CapturePayment, &[OnHold, Cancelled, Rejected], &[]),
    row(CommandKind::RecordPaymentAnomaly, ALL, &[]),
    row(CommandKind::RequestRefund, ALL, &[]),
    row(CommandKind::CompleteRefund, ALL, &[]),
    row(CommandKind::FailRefund, ALL, &[]),
    row(CommandKind::RefundUnappliedPayment, ALL, &[]),
    row(CommandKind::IssuePickList, &[ReadyToShip], &[InFulfilment]),
    row(CommandKind::IssuePickList, &[InFulfilment, PartiallyShipped], &[]),
    row(CommandKind::Pack, &[InFulfilment, PartiallyShipped], &[]),
    row(CommandKind::BookShipment, &[InFulfilment, PartiallyShipped], &[]),
    row(CommandKind::RecordWaybill, &[InFulfilment, PartiallyShipped], &[PartiallyShipped, Shipped]),
    row(CommandKind::RecordTracking, &[Shipped], &[Delivered, ReturnedToSender]),
    row(CommandKind::RecordTracking, &[PartiallyShipped, Delivered, Completed, ReturnedToSender], &[]),
    row(CommandKind::RecordCodCollected, &[PartiallyShipped, Shipped, Delivered, Completed], &[]),
    row(CommandKind::ConfirmReceipt, &[Shipped, Delivered], &[Completed]),
    row(CommandKind::Cancel, &[AwaitingPayment, UnderReview, OnHold, ReadyToShip, InFulfilment], &[Cancelled]),
    row(CommandKind::CancelUnpaid, &[AwaitingPayment, OnHold], &[Cancelled]),
    row(CommandKind::AutoConfirm, &[Shipped, Delivered], &[Completed]),
    row(CommandKind::CloseAfterSales, &[Completed], &[]),
    row(CommandKind::FollowUpDue, &[Completed], &[]),
    row(CommandKind::RecordFollowUp, &[Completed], &[]),
    // After-sales: each case is its own sub-machine and never moves the order's status; the
    // case's own rules (windows, units, case state) are checked by the case decider.
    row(CommandKind::BookShipment, &[Delivered, Completed], &[]),
    row(CommandKind::RecordWaybill, &[Delivered, Completed], &[]),
    row(CommandKind::OpenCase, ALL, &[]),
    row(CommandKind::ApproveCase, ALL, &[]),
    row(CommandKind::RejectCase, ALL, &[]),
    row(CommandKind::WithdrawCase, ALL, &[]),
    row(CommandKind::RecordReturnParcel, ALL, &[]),
    row(CommandKind::ReceiveReturn, ALL, &[]),
    row(CommandKind::InspectReturn, ALL, &[]),
    row(CommandKind::RefundCase, ALL, &[]),
    row(CommandKind::PackReplacement, &[Delivered, Completed], &[]),
    row(CommandKind::RecordRepairReturned, ALL, &[]),
    row(CommandKind::AssignCase, ALL, &[]),
    row(CommandKind::ResolveCase, ALL, &[]),
    row(CommandKind::CloseCase, ALL, &[]),
    row(CommandKind::EscalateCase, ALL, &[]),
    row(CommandKind::CaseFollowUpDue, ALL, &[]),
    row(CommandKind::RecordCaseFollowUp, ALL, &[]),
];

const fn allow(owner: bool, roles: &'static [Role], system: bool, payment_provider: bool, carrier: bool) -> Allowed {
    Allowed { owner, roles, system, payment_provider, carrier }
}

/// Who may issue each command.
pub const PERMISSIONS: &[(CommandKind, Allowed)] = &[
    (CommandKind::Place, allow(true, &[Role::CustomerService], false, false, false)),
    (CommandKind::Approve, allow(false, &[Role::Reviewer], true, false, false)),
    (CommandKind::Hold, allow(false, &[Role::Reviewer, Role::CustomerService], true, false, false)),
    (CommandKind::ResolveHold, allow(false, &[Role::Reviewer, Role::CustomerService], false, false, false)),
    (CommandKind::Reject, allow(false, &[Role::Reviewer], false, false, false)),
    (CommandKind::CapturePayment, allow(false, &[], true, true, false)),
    (CommandKind::RecordPaymentAnomaly, allow(false, &[], true, true, false)),
    (CommandKind::RequestRefund, allow(false, &[Role::CustomerService], false, false, false)),
    (CommandKind::CompleteRefund, allow(false, &[], true, true, false)),
    (CommandKind::FailRefund, allow(false, &[], true, true, false)),
    (CommandKind::RefundUnappliedPayment, allow(false, &[Role::CustomerService], false, false, false)),
    (CommandKind::IssuePickList, allow(false, &[Role::Warehouse], false, false, false)),
    (CommandKind::Pack, allow(false, &[Role::Warehouse], false, false, false)),
    (CommandKind::BookShipment, allow(false, &[Role::Warehouse], false, false, false)),
    (CommandKind::RecordWaybill, allow(false, &[Role::Warehouse], true, false, true)),
    (CommandKind::RecordTracking, allow(false, &[], true, false, true)),
    (CommandKind::RecordCodCollected, allow(false, &[], false, false, true)),
    (CommandKind::ConfirmReceipt, allow(true, &[Role::Admin], false, false, false)),
    (CommandKind::Cancel, allow(true, &[Role::CustomerService], false, false, false)),
    (CommandKind::CancelUnpaid, allow(false, &[], true, false, false)),
    (CommandKind::AutoConfirm, allow(false, &[], true, false, false)),
    (CommandKind::CloseAfterSales, allow(false, &[], true, false, false)),
    (CommandKind::FollowUpDue, allow(false, &[], true, false, false)),
    (CommandKind::RecordFollowUp, allow(false, &[Role::CustomerService], false, false, false)),
    (CommandKind::OpenCase, allow(true, &[Role::CustomerService], false, false, false)),
    (CommandKind::ApproveCase, allow(false, &[Role::CustomerService], false, false, false)),
    (CommandKind::RejectCase, allow(false, &[Role::CustomerService], false, false, false)),
    (CommandKind::WithdrawCase, allow(true, &[], false, false, false)),
    (CommandKind::RecordReturnParcel, allow(true, &[Role::CustomerService], false, false, false)),
    (CommandKind::ReceiveReturn, allow(false, &[Role::Warehouse], false, false, false)),
    (CommandKind::InspectReturn, allow(false, &[Role::Warehouse], false, false, false)),
    (CommandKind::RefundCase, allow(false, &[Role::CustomerService], false, false, false)),
    (CommandKind::PackReplacement, allow(false, &[Role::Warehouse], false, false, false)),
    (CommandKind::RecordRepairReturned, allow(false, &[Role::Warehouse], false, false, false)),
    (CommandKind::AssignCase, allow(false, &[Role::CustomerService], false, false, false)),
    (CommandKind::ResolveCase, allow(false, &[Role::CustomerService], false, false, false)),
    (CommandKind::CloseCase, allow(false, &[Role::CustomerService], false, false, false)),
    (CommandKind::EscalateCase, allow(false, &[], true, false, false)),
    (CommandKind::CaseFollowUpDue, allow(false, &[], true, false, false)),
    (CommandKind::RecordCaseFollowUp, allow(false, &[Role::CustomerService], false, false, false)),
];

/// The transition rows of `command`.
pub fn transitions(command: CommandKind) -> impl Iterator<Item = &'static Transition> {
    TRANSITIONS.iter().filter(move |t| t.command == command)
}

/// Who may issue `command` (nobody if the table has no row).
pub fn permission(command: CommandKind) -> Allowed {
    PERMISSIONS.iter().find(|(c, _)| *c == command).map(|(_, a)| *a).unwrap_or(Allowed::NOBODY)
}

/// True when `command` is allowed while the order is `status`.
pub fn allows(command: CommandKind, status: OrderStatus) -> bool {
    transitions(command).any(|t| t.from.contains(&status))
}

/// True when going from `from` to `to` by `command` is in the table (staying put always is).
pub fn leads_to(command: CommandKind, from: OrderStatus, to: OrderStatus) -> bool {
    from == to || transitions(command).any(|t| t.from.contains(&from) && t.to.contains(&to))
}

fn state_name(status: OrderStatus) -> String {
    status
        .as_str()
        .split('_')
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The transition table as a Mermaid state diagram (edges between distinct statuses; commands
/// that keep the status are listed in the table, not drawn).
pub fn mermaid() -> String {
    let mut edges: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for t in TRANSITIONS {
        let froms: Vec<String> =
            if t.from.is_empty() { vec!["[*]".into()] } else { t.from.iter().map(|s| state_name(*s)).collect() };
        for from in &froms {
            for to in t.to {
                let to = state_name(*to);
                if *from != to {
                    edges.entry((from.clone(), to)).or_default().push(t.command.as_str());
                }
            }
        }
    }
    let mut out = String::from("stateDiagram-v2\n");
    for ((from, to), commands) in edges {
        let _ = writeln!(out, "    {from} --> {to} : {}", commands.join(", "));
    }
    for status in OrderStatus::ALL.iter().filter(|s| s.is_terminal()) {
        let _ = writeln!(out, "    {} --> [*]", state_name(*status));
    }
    out
}

/// The permission table as Markdown, for the docs.
pub fn permissions_markdown() -> String {
    let mut out = String::from("| command | allowed from | who may |\n| --- | --- | --- |\n");
    for (command, allowed) in PERMISSIONS {
        let froms: Vec<&str> = OrderStatus::ALL.iter().filter(|s| allows(*command, **s)).map(|s| s.as_str()).collect();
        let from = match froms.len() {
            0 => "(new order)".to_string(),
            n if n == OrderStatus::ALL.len() => "any".to_string(),
            _ => froms.join(", "),
        };
        let _ = writeln!(out, "| {command} | {from} | {} |", allowed.describe());
    }
    out
}
