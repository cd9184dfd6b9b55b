//! Workflow settings: deadlines, limits, and how the shop speaks (language, time zone). Every
//! duration has the default the common order systems use (30-minute payment window, 10-day
//! automatic confirmation, 7-day returns...).

use std::collections::BTreeMap;

use chrono::TimeDelta;
use chrono_tz::Tz;

use crate::locale::Locale;

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
    /// Return windows per SKU that differ from `after_sales_window` (e.g. 15 days for shoes).
    pub return_windows: BTreeMap<String, TimeDelta>,
    /// Warranty period per SKU, from delivery (SKUs not listed have no warranty).
    pub warranties: BTreeMap<String, TimeDelta>,
    /// Extended-warranty products: when an order contains a line of one of these SKUs, every
    /// warranty of that order is extended by the given time.
    pub extended_warranties: BTreeMap<String, TimeDelta>,
    /// Customer service answers an after-sales request within this, or it escalates (48 hours).
    pub case_answer_within: TimeDelta,
    /// When a refund for returned goods includes the shipping fee.
    pub shipping_refund: ShippingRefund,
    /// Whether a payment may settle part of what is owed (default false). Wallet providers
    /// (WeChat Pay, Alipay) take one payment of the exact amount per order, so by default a
    /// payment that does not settle the whole outstanding amount is not applied: it is a
    /// payment anomaly, handled as `unapplied_payments` says.
    pub partial_captures: bool,
    /// What happens to money received that could not be applied (wrong amount, currency or
    /// order state): sent back automatically (the default) or held for staff.
    pub unapplied_payments: UnappliedPayments,
    /// Polling fallback for lost tracking pushes: when set, a parcel in flight with no tracking
    /// event for this long is asked about (`Logistics::query_tracking`, by `Engine::run_due`),
    /// and again every time as long after. `None` (the default): never polled.
    pub poll_tracking_after: Option<TimeDelta>,
    /// The shop's time zone, an IANA name such as `Asia/Shanghai` (default UTC): times in
    /// messages are shown in it ([`crate::locale::Localizer::for_shop`]), so "please pay by
    /// 17:30" means 17:30 where the buyer is.
    pub time_zone: Tz,
    /// The shop's language for buyer messages (default English); a buyer who chose another
    /// gets their own ([`crate::locale::Localizer::with_catalogue`]).
    pub locale: Locale,
}

/// What the workflow does with a verified payment it cannot apply to the order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnappliedPayments {
    /// Refund it through the outbox at once, as a payment for a cancelled order is.
    #[default]
    Refund,
    /// Keep it on record for customer service, who refund it with
    /// [`crate::Action::RefundUnappliedPayment`]; staff are notified either way.
    HoldForStaff,
}

/// Whether after-sales refunds pay back the shipping fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShippingRefund {
    /// Never.
    Never,
    /// When the refund makes every line fully refunded (the whole order went back).
    WhenEverythingIsRefunded,
    /// With the first after-sales refund.
    Always,
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
            return_windows: BTreeMap::new(),
            warranties: BTreeMap::new(),
            extended_warranties: BTreeMap::new(),
            case_answer_within: TimeDelta::hours(48),
            shipping_refund: ShippingRefund::WhenEverythingIsRefunded,
            partial_captures: false,
            unapplied_payments: UnappliedPayments::Refund,
            poll_tracking_after: None,
            time_zone: Tz::UTC,
            locale: Locale::En,
        }
    }
}
