//! What the engine records through the [`metrics`] facade: the host installs any recorder it
//! likes (Prometheus, StatsD, OpenTelemetry); with none installed, recording costs next to
//! nothing. Every label takes a small, fixed set of values (no order ids, no keys).
//!
//! | metric | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `orderflow_commands_total` | counter | `kind` (the command, `place` for placements), `result` (`applied`, `unchanged`, or the error's [code](crate::engine::EngineError::code)) | commands answered |
//! | `orderflow_command_retries_total` | counter | `kind`, `cause` (`conflict`: the order changed meanwhile; `order_number`: the new number was taken) | commands decided again |
//! | `orderflow_outbox_total` | counter | `effect` (its `effect` tag), `result` (`delivered`, `retrying`, `dead`) | delivery attempts |
//! | `orderflow_deadline_lag_seconds` | histogram | `kind` (the deadline, snake_case) | how late a deadline was fired after it fell due |
//! | `orderflow_outbox_pending`, `orderflow_outbox_ready`, `orderflow_outbox_dead` | gauge | | the [backlog](crate::ports::OutboxBacklog), set by [`Engine::outbox_backlog`](crate::engine::Engine::outbox_backlog) |
//! | `orderflow_outbox_oldest_pending_seconds` | gauge | | the oldest pending entry's age (0 when none) |

use chrono::{DateTime, TimeDelta, Utc};

use super::{EngineError, Outcome};
use crate::effect::Effect;
use crate::order::DeadlineKind;
use crate::ports::OutboxBacklog;

/// Commands answered, by kind and result.
pub const COMMANDS: &str = "orderflow_commands_total";
/// Commands decided again, by kind and cause.
pub const RETRIES: &str = "orderflow_command_retries_total";
/// Outbox delivery attempts, by effect and result.
pub const OUTBOX: &str = "orderflow_outbox_total";
/// Seconds between a deadline falling due and its firing, by kind.
pub const DEADLINE_LAG: &str = "orderflow_deadline_lag_seconds";
/// Outbox entries still to deliver.
pub const OUTBOX_PENDING: &str = "orderflow_outbox_pending";
/// Outbox entries deliverable now.
pub const OUTBOX_READY: &str = "orderflow_outbox_ready";
/// Dead letters.
pub const OUTBOX_DEAD: &str = "orderflow_outbox_dead";
/// The oldest pending outbox entry's age in seconds.
pub const OUTBOX_OLDEST_PENDING: &str = "orderflow_outbox_oldest_pending_seconds";

/// Why a command was decided again.
#[derive(Debug, Clone, Copy)]
pub(super) enum RetryCause {
    /// The order changed between load and commit.
    Conflict,
    /// A placement's new order number was taken.
    OrderNumber,
}

/// Counts a command's answer.
pub(super) fn record_command(kind: &'static str, result: &Result<Outcome, EngineError>) {
    let result = match result {
        Ok(outcome) if outcome.already_applied => "unchanged",
        Ok(_) => "applied",
        Err(e) => e.code(),
    };
    metrics::counter!(COMMANDS, "kind" => kind, "result" => result).increment(1);
}

/// Counts a command decided again.
pub(super) fn record_retry(kind: &'static str, cause: RetryCause) {
    let cause = match cause {
        RetryCause::Conflict => "conflict",
        RetryCause::OrderNumber => "order_number",
    };
    metrics::counter!(RETRIES, "kind" => kind, "cause" => cause).increment(1);
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy)]
pub(super) enum Delivery {
    /// Done.
    Delivered,
    /// Failed, tried again later.
    Retrying,
    /// Failed for the last time: a dead letter.
    Dead,
}

/// Counts one delivery attempt of `effect`.
pub(super) fn record_delivery(effect: &Effect, delivery: Delivery) {
    let result = match delivery {
        Delivery::Delivered => "delivered",
        Delivery::Retrying => "retrying",
        Delivery::Dead => "dead",
    };
    metrics::counter!(OUTBOX, "effect" => effect_label(effect), "result" => result).increment(1);
}

/// Records how late a deadline due at `due_at` was fired at `now`.
pub(super) fn record_deadline_lag(kind: DeadlineKind, due_at: DateTime<Utc>, now: DateTime<Utc>) {
    metrics::histogram!(DEADLINE_LAG, "kind" => deadline_label(kind)).record(seconds(now - due_at));
}

/// Sets the backlog gauges.
pub(super) fn record_backlog(backlog: &OutboxBacklog, now: DateTime<Utc>) {
    // Gauges are floats; counts this large lose only digits no one reads.
    metrics::gauge!(OUTBOX_PENDING).set(backlog.pending as f64);
    metrics::gauge!(OUTBOX_READY).set(backlog.ready as f64);
    metrics::gauge!(OUTBOX_DEAD).set(backlog.dead as f64);
    let age = backlog.oldest_pending_age(now).unwrap_or_default();
    metrics::gauge!(OUTBOX_OLDEST_PENDING).set(seconds(age));
}

/// A duration in seconds (negative ones as zero), as metrics take them.
fn seconds(d: TimeDelta) -> f64 {
    d.max(TimeDelta::zero()).to_std().map_or(0.0, |d| d.as_secs_f64())
}

/// The effect's `effect` tag in its stored form.
fn effect_label(effect: &Effect) -> &'static str {
    match effect {
        Effect::ReserveStock { .. } => "reserve_stock",
        Effect::ReleaseStock { .. } => "release_stock",
        Effect::CommitStock { .. } => "commit_stock",
        Effect::Restock { .. } => "restock",
        Effect::ReturnToStock { .. } => "return_to_stock",
        Effect::ClosePayment { .. } => "close_payment",
        Effect::Refund { .. } => "refund",
        Effect::CreateShipment { .. } => "create_shipment",
        Effect::SubscribeTracking { .. } => "subscribe_tracking",
        Effect::Notify(_) => "notify",
        Effect::Schedule { .. } => "schedule",
    }
}

/// The deadline's kind without the case it may name.
fn deadline_label(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::PayBy => "pay_by",
        DeadlineKind::AutoConfirm => "auto_confirm",
        DeadlineKind::AfterSalesWindow => "after_sales_window",
        DeadlineKind::FollowUp => "follow_up",
        DeadlineKind::TrackingPoll => "tracking_poll",
        DeadlineKind::CaseSla(_) => "case_sla",
        DeadlineKind::CaseFollowUp(_) => "case_follow_up",
    }
}
