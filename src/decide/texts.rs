//! Bounds on every free text a command carries, checked before anything else is decided, so
//! no command can store an arbitrarily large note, reason or identifier. The match is
//! exhaustive: a new action must say what text it carries.

use crate::command::Action;
use crate::error::Error;
use crate::order::{AnomalyReason, CaseRequest, HoldReason, RefundFailure, ScannedItem, TrackingUpdate};
use crate::text::Trim;

/// Longest identifier from outside (transaction ids, waybills, references, carrier names,
/// service levels, reason codes, carrier event ids), in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Longest note, reason or description, in characters.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Most items in one list a command carries (scanned items, hold reasons, evidence).
pub const MAX_ITEMS: usize = 1_000;

/// Checks the lengths of every text `action` carries (not whether a required one is given:
/// the decider says that, with the state it needs).
pub(crate) fn check(action: &Action) -> Result<(), Error> {
    match action {
        Action::Approve { note } => text("note", note),
        Action::Hold { reasons, note } => {
            items("reasons", reasons.len())?;
            for reason in reasons {
                if let HoldReason::Custom { text: why } = reason {
                    text("reasons", why)?;
                }
            }
            text("note", note)
        }
        Action::ResolveHold { contact_note } => text("contact_note", contact_note),
        Action::Reject { reason } | Action::Cancel { reason } => text("reason", reason),
        Action::CapturePayment { txn_id, .. } | Action::RefundUnappliedPayment { txn_id } => id("txn_id", txn_id),
        Action::RecordPaymentAnomaly { txn_id, reason, .. } => {
            id("txn_id", txn_id)?;
            match reason {
                AnomalyReason::Stated { text: why } => text("reason", why),
                _ => Ok(()),
            }
        }
        Action::RequestRefund { lines, reason, manual_reference, .. } => {
            items("lines", lines.len())?;
            text("reason", reason)?;
            id("manual_reference", manual_reference.as_deref().unwrap_or_default())
        }
        Action::OpenPaymentSession { provider } => id("provider", provider),
        Action::CompleteRefund { reference, .. } => id("reference", reference),
        Action::FailRefund { reason, .. } => match reason {
            RefundFailure::Stated { text: why } => text("reason", why),
            RefundFailure::ProviderFailed => Ok(()),
        },
        Action::IssuePickList
        | Action::ConfirmReceipt
        | Action::RecordCodCollected { .. }
        | Action::FireDeadline { .. }
        | Action::ApproveCase { .. }
        | Action::WithdrawCase { .. }
        | Action::ReceiveReturn { .. }
        | Action::AssignCase { .. }
        | Action::CloseCase { .. } => Ok(()),
        Action::Pack { items: packed, scanned } => {
            items("items", packed.len())?;
            scanned_items(scanned)
        }
        Action::BookShipment { carrier, service, reason, .. } => {
            id("carrier", carrier)?;
            id("service", service)?;
            reason.written_words().map_or(Ok(()), |words| text("reason", words))
        }
        Action::RecordWaybill { waybill, .. }
        | Action::RecordReturnParcel { waybill, .. }
        | Action::RecordRepairReturned { waybill, .. } => id("waybill", waybill),
        Action::CorrectCarrier { waybill, carrier } => {
            id("waybill", waybill)?;
            id("carrier", carrier)
        }
        Action::RecordTracking { waybill, update } => {
            id("waybill", waybill)?;
            tracking(update)
        }
        Action::OpenCase { request } => case_request(request),
        Action::RejectCase { reason, .. } => text("reason", reason),
        Action::InspectReturn { note, .. } => text("note", note),
        Action::RefundCase { manual_reference, .. } => {
            id("manual_reference", manual_reference.as_deref().unwrap_or_default())
        }
        Action::PackReplacement { scanned, .. } => scanned_items(scanned),
        Action::ResolveCase { resolution, .. } => text("resolution", resolution),
        Action::RecordCaseFollowUp { notes, .. } | Action::RecordFollowUp { notes, .. } => text("notes", notes),
    }
}

fn tracking(update: &TrackingUpdate) -> Result<(), Error> {
    id("update.event_id", &update.event_id)?;
    text("update.location", &update.location)?;
    text("update.description", &update.description)
}

fn case_request(request: &CaseRequest) -> Result<(), Error> {
    items("request.lines", request.lines.len())?;
    id("request.reason_code", &request.reason_code)?;
    text("request.text", &request.text)?;
    items("request.evidence", request.evidence.len())?;
    request.evidence.iter().try_for_each(|e| text("request.evidence", e))
}

fn scanned_items(scanned: &[ScannedItem]) -> Result<(), Error> {
    items("scanned", scanned.len())?;
    for item in scanned {
        id("scanned.sku", &item.sku)?;
        text("scanned.product_name", &item.product_name)?;
        for (name, value) in item.variant.iter() {
            id("scanned.variant", name)?;
            id("scanned.variant", value)?;
        }
    }
    Ok(())
}

fn id(field: &'static str, value: &str) -> Result<(), Error> {
    at_most(field, value, MAX_ID_CHARS)
}

fn text(field: &'static str, value: &str) -> Result<(), Error> {
    at_most(field, value, MAX_TEXT_CHARS)
}

fn at_most(field: &'static str, value: &str, max: usize) -> Result<(), Error> {
    // A byte bound first, so an enormous value is refused without counting its characters.
    if value.len() > max.saturating_mul(4) || value.trimmed().chars().count() > max {
        return Err(Error::InvalidField { field, rule: format!("must be at most {max} characters") });
    }
    Ok(())
}

fn items(field: &'static str, count: usize) -> Result<(), Error> {
    if count > MAX_ITEMS {
        return Err(Error::InvalidField { field, rule: format!("must have at most {MAX_ITEMS} items") });
    }
    Ok(())
}
