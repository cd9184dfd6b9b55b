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
    row(CommandKind::OpenPaymentSession, &[AwaitingPayment, OnHold], &[]),
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
    row(CommandKind::CorrectCarrier, &[PartiallyShipped, Shipped, Delivered, Completed, ReturnedToSender], &[]),
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

/// Who may issue each command.
pub const PERMISSIONS: &[(CommandKind, Allowed)] = &[
    (CommandKind::Place, Allowed::OWNER.and_staff(&[Role::CustomerService])),
    (CommandKind::Approve, Allowed::staff(&[Role::Reviewer]).and_system()),
    (CommandKind::Hold, Allowed::staff(&[Role::Reviewer, Role::CustomerService]).and_system()),
    (CommandKind::ResolveHold, Allowed::staff(&[Role::Reviewer, Role::CustomerService])),
    (CommandKind::Reject, Allowed::staff(&[Role::Reviewer])),
    (CommandKind::OpenPaymentSession, Allowed::OWNER.and_staff(&[Role::CustomerService]).and_system()),
    (CommandKind::CapturePayment, Allowed::SYSTEM.and_payment_provider()),
    (CommandKind::RecordPaymentAnomaly, Allowed::SYSTEM.and_payment_provider()),
    (CommandKind::RequestRefund, Allowed::staff(&[Role::CustomerService])),
    (CommandKind::CompleteRefund, Allowed::SYSTEM.and_payment_provider()),
    (CommandKind::FailRefund, Allowed::SYSTEM.and_payment_provider()),
    (CommandKind::RefundUnappliedPayment, Allowed::staff(&[Role::CustomerService])),
    (CommandKind::IssuePickList, Allowed::staff(&[Role::Warehouse])),
    (CommandKind::Pack, Allowed::staff(&[Role::Warehouse])),
    (CommandKind::BookShipment, Allowed::staff(&[Role::Warehouse])),
    (CommandKind::RecordWaybill, Allowed::staff(&[Role::Warehouse]).and_system().and_carrier()),
    (CommandKind::CorrectCarrier, Allowed::SYSTEM),
    (CommandKind::RecordTracking, Allowed::SYSTEM.and_carrier()),
    (CommandKind::RecordCodCollected, Allowed::CARRIER),
    (CommandKind::ConfirmReceipt, Allowed::OWNER.and_staff(&[Role::Admin])),
    (CommandKind::Cancel, Allowed::OWNER.and_staff(&[Role::CustomerService])),
    (CommandKind::CancelUnpaid, Allowed::SYSTEM),
    (CommandKind::AutoConfirm, Allowed::SYSTEM),
    (CommandKind::CloseAfterSales, Allowed::SYSTEM),
    (CommandKind::FollowUpDue, Allowed::SYSTEM),
    (CommandKind::RecordFollowUp, Allowed::staff(&[Role::CustomerService])),
    (CommandKind::OpenCase, Allowed::OWNER.and_staff(&[Role::CustomerService])),
    (CommandKind::ApproveCase, Allowed::staff(&[Role::CustomerService])),
    (CommandKind::RejectCase, Allowed::staff(&[Role::CustomerService])),
    (CommandKind::WithdrawCase, Allowed::OWNER),
    (CommandKind::RecordReturnParcel, Allowed::OWNER.and_staff(&[Role::CustomerService])),
    (CommandKind::ReceiveReturn, Allowed::staff(&[Role::Warehouse])),
    (CommandKind::InspectReturn, Allowed::staff(&[Role::Warehouse])),
    (CommandKind::RefundCase, Allowed::staff(&[Role::CustomerService])),
    (CommandKind::PackReplacement, Allowed::staff(&[Role::Warehouse])),
    (CommandKind::RecordRepairReturned, Allowed::staff(&[Role::Warehouse])),
    (CommandKind::AssignCase, Allowed::staff(&[Role::CustomerService])),
    (CommandKind::ResolveCase, Allowed::staff(&[Role::CustomerService])),
    (CommandKind::CloseCase, Allowed::staff(&[Role::CustomerService])),
    (CommandKind::EscalateCase, Allowed::SYSTEM),
    (CommandKind::CaseFollowUpDue, Allowed::SYSTEM),
    (CommandKind::RecordCaseFollowUp, Allowed::staff(&[Role::CustomerService])),
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
