//! [`PaymentRouter`]: one [`PaymentGateway`] over several providers, for a shop that takes
//! WeChat Pay and Alipay (or any others) at once.
//!
//! Calls go to the gateway named by the provider they carry: `create_payment` and `refund` by
//! the request's `provider`, `query_payment`, `close_payment` and `query_refund` by their
//! `provider` argument (the engine passes the order's provider). Webhooks carry no provider of
//! their own, so the host gives each provider its own webhook URL and marks each call with
//! [`RawMessage::routed_to`] before handing it to the engine:
//!
//! ```
//! use orderflow::adapters::router::PaymentRouter;
//! use orderflow::ports::{PaymentGateway, RawMessage};
//! use orderflow::testing::{FakeGateway, t0};
//! use orderflow::{Currency, Money, OrderNumber};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let alipay = FakeGateway::new("alipay", "alipay-secret");
//! let router = PaymentRouter::new()
//!     .with("wechatpay", FakeGateway::new("wechatpay", "wechat-secret"))
//!     .with("alipay", FakeGateway::new("alipay", "alipay-secret"));
//! // `POST /webhooks/alipay` → routed to the "alipay" gateway, which checks the signature.
//! let number = OrderNumber::from_value(7).unwrap();
//! let raw: RawMessage = alipay.notify_paid(&number, Money::new(100, Currency::CNY), t0());
//! let paid = router.verify_notification(&raw.routed_to("alipay"), t0()).await.unwrap();
//! assert_eq!(paid.provider.as_deref(), Some("alipay"));
//! # });
//! ```
//!
//! A message routed to a provider the router does not have, or not routed at all, is refused
//! as malformed; a call for such a provider is refused ([`GatewayError::Rejected`]): both are
//! configuration mistakes a retry cannot mend.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::ids::RefundId;
use crate::order_number::OrderNumber;
use crate::ports::{
    CloseOutcome, DynPaymentGateway, GatewayError, PROVIDER_HEADER, PaymentGateway, PaymentNotification,
    PaymentRequest, PaymentSession, RawMessage, RefundNotification, RefundReceipt, RefundRequest, WebhookReply,
};

/// Named payment gateways behind one [`PaymentGateway`]: see the [module docs](self).
#[derive(Default)]
pub struct PaymentRouter {
    gateways: Vec<(String, Box<DynPaymentGateway<'static>>)>,
}

impl fmt::Debug for PaymentRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentRouter").field("providers", &self.providers().collect::<Vec<_>>()).finish()
    }
}

impl PaymentRouter {
    /// A router with no gateway yet.
    pub fn new() -> PaymentRouter {
        PaymentRouter::default()
    }

    /// The same router sending provider `name`'s calls to `gateway` (replacing any gateway
    /// it had under that name).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, gateway: impl PaymentGateway + 'static) -> PaymentRouter {
        let name = name.into();
        self.gateways.retain(|(known, _)| *known != name);
        self.gateways.push((name, DynPaymentGateway::new_box(gateway)));
        self
    }

    /// The provider names, in the order they were added.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.gateways.iter().map(|(name, _)| name.as_str())
    }

    fn gateway(&self, provider: &str) -> Option<&DynPaymentGateway<'static>> {
        self.gateways.iter().find(|(name, _)| name == provider).map(|(_, gateway)| &**gateway)
    }

    /// The gateway for a call about `provider`.
    fn for_call(&self, provider: &str) -> Result<&DynPaymentGateway<'static>, GatewayError> {
        self.gateway(provider).ok_or_else(|| GatewayError::Rejected(format!("no gateway for provider {provider:?}")))
    }

    /// The provider a webhook was routed to, and its gateway.
    fn for_webhook<'a>(
        &'a self,
        raw: &'a RawMessage,
    ) -> Result<(&'a str, &'a DynPaymentGateway<'static>), GatewayError> {
        let provider = raw.header(PROVIDER_HEADER).ok_or_else(|| {
            GatewayError::Malformed("webhook not routed to a provider (RawMessage::routed_to)".into())
        })?;
        let gateway = self
            .gateway(provider)
            .ok_or_else(|| GatewayError::Malformed(format!("webhook routed to unknown provider {provider:?}")))?;
        Ok((provider, gateway))
    }
}

impl PaymentGateway for PaymentRouter {
    async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentSession, GatewayError> {
        self.for_call(&request.provider)?.create_payment(request).await
    }

    /// Verified by the gateway the message was routed to; the notification names that
    /// provider when its gateway does not.
    async fn verify_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<PaymentNotification, GatewayError> {
        let (provider, gateway) = self.for_webhook(raw)?;
        let mut notification = gateway.verify_notification(raw, now).await?;
        notification.provider.get_or_insert_with(|| provider.to_owned());
        Ok(notification)
    }

    async fn query_payment(
        &self,
        order_number: &OrderNumber,
        provider: &str,
    ) -> Result<Option<PaymentNotification>, GatewayError> {
        self.for_call(provider)?.query_payment(order_number, provider).await
    }

    async fn close_payment(&self, order_number: &OrderNumber, provider: &str) -> Result<CloseOutcome, GatewayError> {
        self.for_call(provider)?.close_payment(order_number, provider).await
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, GatewayError> {
        self.for_call(&request.provider)?.refund(request).await
    }

    async fn verify_refund_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<RefundNotification, GatewayError> {
        let (provider, gateway) = self.for_webhook(raw)?;
        let mut notification = gateway.verify_refund_notification(raw, now).await?;
        notification.provider.get_or_insert_with(|| provider.to_owned());
        Ok(notification)
    }

    async fn query_refund(
        &self,
        order_number: &OrderNumber,
        refund: RefundId,
        provider: &str,
    ) -> Result<Option<RefundNotification>, GatewayError> {
        self.for_call(provider)?.query_refund(order_number, refund, provider).await
    }

    /// In the format of the provider `raw` was routed to (the port's default when it names
    /// none the router has).
    fn reply_to(&self, raw: &RawMessage, handled: bool) -> WebhookReply {
        match self.for_webhook(raw) {
            Ok((_, gateway)) => gateway.reply_to(raw, handled),
            Err(_) => self.reply(handled),
        }
    }
}
