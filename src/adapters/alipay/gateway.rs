//! [`AlipayGateway`]: the payment port over the sans-IO pieces and a host's transport.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::api::{self, Call};
use super::config::AlipayConfig;
use super::{AlipayError, notify, sign};
use crate::adapters::http::{HttpRequest, HttpTransport};
use crate::ids::RefundId;
use crate::order_number::OrderNumber;
use crate::ports::{
    Clock, CloseOutcome, GatewayError, PaymentGateway, PaymentNotification, PaymentRequest, PaymentSession,
    PaymentStatus, RawMessage, RefundNotification, RefundReceipt, RefundRequest, RefundStatus, SystemClock,
    WebhookReply,
};

/// The business code of a trade Alipay does not have (never opened, or a QR code never
/// scanned).
const TRADE_NOT_EXIST: &str = "ACQ.TRADE_NOT_EXIST";

/// Alipay's open platform (RSA2, public-key mode) as a [`PaymentGateway`]. Signs each call,
/// verifies each answer and notification with the Alipay public key, and maps Alipay's codes
/// to [`GatewayError`].
pub struct AlipayGateway<T> {
    config: AlipayConfig,
    transport: T,
    clock: Arc<dyn Clock>,
}

impl<T> std::fmt::Debug for AlipayGateway<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayGateway").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<T: HttpTransport> AlipayGateway<T> {
    /// A gateway calling Alipay through `transport`.
    pub fn new(config: AlipayConfig, transport: T) -> AlipayGateway<T> {
        AlipayGateway { config, transport, clock: Arc::new(SystemClock) }
    }

    /// The same gateway reading the time from `clock` (the requests' `timestamp`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> AlipayGateway<T> {
        self.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &AlipayConfig {
        &self.config
    }

    /// The transport (in tests, the emulator behind it).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Signs and sends one call (form-urlencoded POST to the gateway); returns the verified
    /// `_response` value.
    async fn call<R: for<'a> serde::Deserialize<'a>>(&self, call: &Call) -> Result<R, AlipayError> {
        let params = api::signed_params(&self.config, call, self.clock.now())?;
        let request = HttpRequest {
            method: "POST",
            url: self.config.gateway_url.clone(),
            headers: vec![
                ("Content-Type".to_owned(), "application/x-www-form-urlencoded;charset=utf-8".to_owned()),
                ("Accept".to_owned(), "application/json".to_owned()),
                ("User-Agent".to_owned(), concat!("orderflow/", env!("CARGO_PKG_VERSION")).to_owned()),
            ],
            body: sign::encode_form(&params).into_bytes(),
        };
        let response = self.transport.send(request).await.map_err(|e| AlipayError::Transport(e.0))?;
        if response.status != 200 {
            return Err(AlipayError::Http(response.status));
        }
        api::read_answer(&self.config, call.method, &response.message.body)
    }
}

impl<T: HttpTransport> PaymentGateway for AlipayGateway<T> {
    async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentSession, GatewayError> {
        let call = api::create(request)?;
        if call.method != api::PRECREATE && call.method != api::TRADE_CREATE {
            // Page, wap and app payments are signed here and opened by the buyer.
            let params = api::signed_params(&self.config, &call, self.clock.now())?;
            let session = api::local_session(&self.config, &params);
            return Ok(session.ok_or_else(|| AlipayError::Unsupported(format!("method {}", call.method)))?);
        }
        if call.method == api::TRADE_CREATE {
            let created: api::TradeCreated = self.call(&call).await?;
            if created.out_trade_no != request.provider_reference() || created.trade_no.is_empty() {
                return Err(AlipayError::Malformed("trade create answered for another order".into()).into());
            }
            return Ok(PaymentSession::TradeNo { trade_no: created.trade_no });
        }
        let created: api::Precreated = self.call(&call).await?;
        Ok(PaymentSession::QrCode { payload: created.qr_code })
    }

    async fn verify_notification(
        &self,
        raw: &RawMessage,
        _now: DateTime<Utc>,
    ) -> Result<PaymentNotification, GatewayError> {
        Ok(notify::payment(&self.config, &raw.body)?)
    }

    async fn query_payment(
        &self,
        order_number: &OrderNumber,
        _provider: &str,
    ) -> Result<Option<PaymentNotification>, GatewayError> {
        let trade: api::Trade = match self.call(&api::query(order_number)).await {
            Ok(trade) => trade,
            Err(e) if e.sub_code() == Some(TRADE_NOT_EXIST) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let paid = trade.notification()?;
        if paid.order_number != *order_number {
            return Err(AlipayError::Malformed("query answered for another order".into()).into());
        }
        Ok(Some(paid).filter(|paid| paid.status == PaymentStatus::Succeeded))
    }

    async fn close_payment(&self, order_number: &OrderNumber, _provider: &str) -> Result<CloseOutcome, GatewayError> {
        match self.call::<serde_json::Value>(&api::close(order_number)).await {
            Ok(_) => Ok(CloseOutcome::Closed),
            Err(e) if e.sub_code() == Some(TRADE_NOT_EXIST) => Ok(CloseOutcome::NothingToClose),
            Err(e) => Err(e.into()),
        }
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, GatewayError> {
        let answer: api::Refunded = self.call(&api::refund(request)?).await?;
        Ok(api::refund_receipt(request, &answer))
    }

    async fn verify_refund_notification(
        &self,
        raw: &RawMessage,
        _now: DateTime<Utc>,
    ) -> Result<RefundNotification, GatewayError> {
        let notice = notify::refund(&self.config, &raw.body)?;
        // `refund_fee` is the trade's refunded total: the refund's own amount comes from the
        // refund query. Not confirmed yet: Alipay sends the notification again later.
        match self.query_refund(&notice.order_number, notice.refund, api::PROVIDER).await? {
            Some(queried) if queried.status == RefundStatus::Succeeded => Ok(notify::confirmed(&notice, queried)?),
            _ => Err(GatewayError::Unavailable("Alipay's refund query does not confirm the refund yet".into())),
        }
    }

    async fn query_refund(
        &self,
        order_number: &OrderNumber,
        refund: RefundId,
        _provider: &str,
    ) -> Result<Option<RefundNotification>, GatewayError> {
        match self.call::<api::RefundQueried>(&api::refund_query(order_number, refund)).await {
            Ok(answer) => Ok(api::refund_outcome(order_number, refund, &answer)?),
            Err(e) if e.sub_code() == Some(TRADE_NOT_EXIST) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn reply(&self, handled: bool) -> WebhookReply {
        notify::reply(handled)
    }
}
