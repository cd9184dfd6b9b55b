//! Workflow settings: deadlines and limits. Every duration has a default from SPEC.md.

use chrono::TimeDelta;

use crate::validation::Limits;

/// How long things may take, and what the workflow does on its own.
#[derive(Debug, Clone)]
pub struct WorkflowConfig {
    /// An unpaid online order is cancelled this long after placement (default 30 minutes).
    pub pay_within: TimeDelta,
    /// The estimated ship-by time told to the buyer is placement plus this (default 48 hours).
    pub ship_within: TimeDelta,
    /// A delivered order is confirmed automatically this long after delivery (default 10 days).
    pub auto_confirm_after_delivery: TimeDelta,
    /// If no delivery event ever arrives, the order is confirmed this long after its last
    /// package shipped (default 20 days: 10 days of transit grace plus the 10 above).
    pub auto_confirm_after_shipping: TimeDelta,
    /// After-sales window after completion (default 7 days: "7-day no-reason returns").
    pub after_sales_window: TimeDelta,
    /// A follow-up visit is due this long after completion (default 3 days).
    pub follow_up_after: TimeDelta,
    /// Approve automatically at placement when no review rule holds the order (default true).
    /// When false, every order waits for a reviewer.
    pub auto_approve: bool,
    /// Size limits for placement forms, against abuse.
    pub limits: Limits,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        WorkflowConfig {
            pay_within: TimeDelta::minutes(30),
            ship_within: TimeDelta::hours(48),
            auto_confirm_after_delivery: TimeDelta::days(10),
            auto_confirm_after_shipping: TimeDelta::days(20),
            after_sales_window: TimeDelta::days(7),
            follow_up_after: TimeDelta::days(3),
            auto_approve: true,
            limits: Limits::default(),
        }
    }
}
