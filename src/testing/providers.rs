//! What a test makes the outside world do, whatever provider it runs on: the buyer pays, the
//! carrier reports a parcel's progress. [`TestPayments`] and [`TestTracking`] are implemented
//! by the scripted fakes ([`FakeGateway`], [`FakeCarrier`]) and, with the providers' features,
//! by the real adapters over their in-process emulators
//! ([`EmulatedAlipay`](crate::testing::emulators::EmulatedAlipay),
//! [`EmulatedKuaidi100`](crate::testing::emulators::EmulatedKuaidi100)), so the same
//! [`Shop`](crate::testing::shop::Shop), simulation and examples run on either.

use chrono::{DateTime, Utc};

use crate::money::Money;
use crate::order::TrackingKind;
use crate::order_number::OrderNumber;
use crate::ports::{Logistics, PaymentGateway, RawMessage, TrackingPush};
use crate::testing::{FakeCarrier, FakeGateway};

/// A payment gateway whose provider a test can make the buyer pay at.
pub trait TestPayments: PaymentGateway {
    /// The buyer pays `amount` for `order_number` at the provider: the signed notification
    /// the provider sends the shop at `now`. `None` when the provider has no payment for the
    /// order to pay (a real provider's is opened by `Engine::start_payment`).
    fn buyer_pays(&self, order_number: &OrderNumber, amount: Money, now: DateTime<Utc>) -> Option<RawMessage>;

    /// The transactions the provider confirmed for `order_number`: the shop must record each
    /// exactly once.
    fn confirmed_transactions(&self, order_number: &OrderNumber) -> Vec<String>;
}

/// What a carrier reports about a parcel: `kind` for `waybill`, happened `at`, in the
/// carrier's `words` (which also tell reports of the same kind apart).
#[derive(Debug, Clone, Copy)]
pub struct CarrierReport<'a> {
    /// The parcel's waybill.
    pub waybill: &'a str,
    /// What happened.
    pub kind: TrackingKind,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The carrier's words.
    pub words: &'a str,
}

/// Logistics whose tracking service a test can make report a parcel's progress.
pub trait TestTracking: Logistics {
    /// The carrier reports `report`: the signed push the shop receives at `now`. `None` when
    /// the service pushes nothing for the waybill (a real service pushes only what the shop
    /// subscribed to; the report is still in the waybill's history, for `query_tracking`).
    fn carrier_reports(&self, report: CarrierReport<'_>, now: DateTime<Utc>) -> Option<RawMessage>;
}

impl TestPayments for FakeGateway {
    /// Always: the fake takes payments it never opened ([`FakeGateway::notify_paid`]).
    fn buyer_pays(&self, order_number: &OrderNumber, amount: Money, now: DateTime<Utc>) -> Option<RawMessage> {
        Some(self.notify_paid(order_number, amount, now))
    }

    fn confirmed_transactions(&self, order_number: &OrderNumber) -> Vec<String> {
        self.payment(order_number)
            .map(|record| record.transactions.into_iter().map(|(txn, _)| txn).collect())
            .unwrap_or_default()
    }
}

impl TestTracking for FakeCarrier {
    /// Always: the fake pushes every waybill; the push is signed at `now` (the carrier refuses
    /// a signature outside its tolerance of the shop's clock), the update keeps its own time.
    fn carrier_reports(&self, report: CarrierReport<'_>, now: DateTime<Utc>) -> Option<RawMessage> {
        let CarrierReport { waybill, kind, at, words } = report;
        let update = FakeCarrier::update(kind, at, &format!("{waybill}-{words}"));
        Some(self.push_many(&[TrackingPush::new(self.name(), waybill, update)], now))
    }
}
