//! Security pass: for every command kind, every kind of actor is tried; exactly the actors the
//! permission table allows get past authorization, everyone else is refused with `Forbidden`
//! (or `NotYourOrder` for another buyer) and nothing changes.

use orderflow::order::{CaseKind, CaseRequest, DeadlineKind, HoldReason, LineRefund, TrackingKind, TrackingUpdate};
use orderflow::testing::{Scenario, buyer, carrier, provider, sample_form, staff, t0};
use orderflow::transitions::{PERMISSIONS, permission};
use orderflow::{
    Action, Actor, CaseId, Command, CommandKind, Ctx, Error, LineId, Money, PackageId, RefundId, Role, StaffId,
};

fn action_for(kind: CommandKind, money: Money) -> Option<Action> {
    let case = CaseId(1);
    Some(match kind {
        CommandKind::Place => return None,
        CommandKind::Approve => Action::Approve { note: String::new() },
        CommandKind::Hold => Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: String::new() },
        CommandKind::ResolveHold => Action::ResolveHold { contact_note: "called".into() },
        CommandKind::Reject => Action::Reject { reason: "no".into() },
        CommandKind::OpenPaymentSession => Action::OpenPaymentSession { provider: "alipay".into() },
        CommandKind::CapturePayment => Action::CapturePayment { txn_id: "T".into(), amount: money },
        CommandKind::RecordPaymentAnomaly => Action::RecordPaymentAnomaly {
            txn_id: "T".into(),
            amount: money,
            reason: orderflow::AnomalyReason::stated("x"),
        },
        CommandKind::RequestRefund => Action::RequestRefund {
            lines: vec![LineRefund { line: LineId(1), amount: money }],
            shipping: Money::zero(money.currency),
            reason: "x".into(),
            manual_reference: None,
        },
        CommandKind::CompleteRefund => Action::CompleteRefund { refund: RefundId(1), reference: "R".into() },
        CommandKind::FailRefund => {
            Action::FailRefund { refund: RefundId(1), reason: orderflow::RefundFailure::stated("x") }
        }
        CommandKind::RefundUnappliedPayment => Action::RefundUnappliedPayment { txn_id: "T".into() },
        CommandKind::IssuePickList => Action::IssuePickList,
        CommandKind::Pack => Action::Pack { items: vec![], scanned: vec![] },
        CommandKind::BookShipment => Action::BookShipment {
            package: PackageId(1),
            carrier: "SF".into(),
            service: "standard".into(),
            reason: orderflow::ChoiceReason::stated(""),
        },
        CommandKind::RecordWaybill => Action::RecordWaybill { package: PackageId(1), waybill: "W".into() },
        CommandKind::CorrectCarrier => Action::CorrectCarrier { waybill: "W".into(), carrier: "ZTO".into() },
        CommandKind::RecordTracking => Action::RecordTracking {
            waybill: "W".into(),
            update: TrackingUpdate {
                kind: TrackingKind::InTransit,
                at: t0(),
                event_id: "E".into(),
                location: Default::default(),
                description: Default::default(),
            },
        },
        CommandKind::RecordCodCollected => Action::RecordCodCollected { amount: money },
        CommandKind::ConfirmReceipt => Action::ConfirmReceipt,
        CommandKind::Cancel => Action::Cancel { reason: "x".into() },
        CommandKind::CancelUnpaid => Action::FireDeadline { kind: DeadlineKind::PayBy },
        CommandKind::AutoConfirm => Action::FireDeadline { kind: DeadlineKind::AutoConfirm },
        CommandKind::CloseAfterSales => Action::FireDeadline { kind: DeadlineKind::AfterSalesWindow },
        CommandKind::FollowUpDue => Action::FireDeadline { kind: DeadlineKind::FollowUp },
        CommandKind::RecordFollowUp => Action::RecordFollowUp { score: 5, notes: String::new() },
        CommandKind::OpenCase => Action::OpenCase {
            request: CaseRequest {
                kind: CaseKind::Complaint,
                lines: vec![],
                reason_code: "x".into(),
                text: String::new(),
                evidence: vec![],
            },
        },
        CommandKind::ApproveCase => Action::ApproveCase { case },
        CommandKind::RejectCase => Action::RejectCase { case, reason: "x".into() },
        CommandKind::WithdrawCase => Action::WithdrawCase { case },
        CommandKind::RecordReturnParcel => Action::RecordReturnParcel { case, waybill: "R".into() },
        CommandKind::ReceiveReturn => Action::ReceiveReturn { case },
        CommandKind::InspectReturn => Action::InspectReturn { case, passed: true, note: String::new() },
        CommandKind::RefundCase => Action::RefundCase { case, manual_reference: None },
        CommandKind::PackReplacement => Action::PackReplacement { case, scanned: vec![] },
        CommandKind::RecordRepairReturned => Action::RecordRepairReturned { case, waybill: "R".into() },
        CommandKind::AssignCase => Action::AssignCase { case, assignee: StaffId::new("chen").unwrap() },
        CommandKind::ResolveCase => Action::ResolveCase { case, resolution: "x".into() },
        CommandKind::CloseCase => Action::CloseCase { case },
        CommandKind::EscalateCase => Action::FireDeadline { kind: DeadlineKind::CaseSla(case) },
        CommandKind::CaseFollowUpDue => Action::FireDeadline { kind: DeadlineKind::CaseFollowUp(case) },
        CommandKind::RecordCaseFollowUp => Action::RecordCaseFollowUp { case, score: 5, notes: String::new() },
    })
}

fn actors() -> Vec<(&'static str, Actor)> {
    let mut all = vec![
        ("owner", buyer("alice")),
        ("other buyer", buyer("mallory")),
        ("system", Actor::System),
        ("payment provider", provider()),
        ("carrier", carrier("SF")),
        ("staff without roles", staff("nobody", &[])),
    ];
    for role in Role::ALL {
        all.push((
            match role {
                Role::Reviewer => "reviewer",
                Role::Warehouse => "warehouse",
                Role::CustomerService => "customer service",
                Role::Admin => "admin",
            },
            staff("s", &[role]),
        ));
    }
    all
}

#[test]
fn every_command_refuses_every_actor_the_table_does_not_allow() {
    let s = Scenario::placed(sample_form("alice"));
    let order = s.order().clone();
    let ctx = Ctx::at(s.now);
    let mut checked = 0;
    for (kind, _) in PERMISSIONS {
        let Some(action) = action_for(*kind, order.totals().total) else { continue };
        assert_eq!(action.kind(), *kind);
        let allowed = permission(*kind);
        for (name, actor) in actors() {
            let result = s.workflow.decide(&order, &Command::new(actor.clone(), action.clone()), &ctx);
            let refused_for_actor = matches!(result, Err(Error::Forbidden { .. } | Error::NotYourOrder));
            let may = allowed.permits(&actor, order.customer());
            assert_eq!(!may, refused_for_actor, "{kind} by {name}: allowed={may}, got {result:?}");
            if name == "other buyer" && allowed.owner {
                assert!(matches!(result, Err(Error::NotYourOrder)), "{kind}: another buyer must look like not found");
            }
            checked += 1;
        }
    }
    assert!(checked >= 40 * 9, "only {checked} combinations checked");
}

#[test]
fn placing_for_someone_else_is_refused() {
    let mut s = Scenario::new(orderflow::Workflow::default());
    let err = s.place(&buyer("mallory"), &sample_form("alice")).unwrap_err();
    assert_eq!(err, Error::NotYourOrder);
    let err = s.place(&carrier("SF"), &sample_form("alice")).unwrap_err();
    assert!(matches!(err, Error::Forbidden { command: CommandKind::Place, .. }));
    assert!(s.place(&staff("chen", &[Role::CustomerService]), &sample_form("alice")).is_ok());
}
