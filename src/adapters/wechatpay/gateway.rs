//! [`WechatPayGateway`]: the payment port over the sans-IO pieces and a host's transport.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};

use super::api::{self, ApiRequest};
use super::config::WechatPayConfig;
use super::platform_certs::{PlatformKeys, decode_certificates};
use super::sign::{self, Authorization};
use super::verify::{self, SignatureHeaders};
use super::{WechatPayError, notification};
use crate::adapters::http::{HttpRequest, HttpTransport};
use crate::ids::RefundId;
use crate::order_number::OrderNumber;
use crate::ports::{
    Clock, CloseOutcome, GatewayError, PaymentGateway, PaymentNotification, PaymentRequest, PaymentSession, RawMessage,
    RefundNotification, RefundReceipt, RefundRequest, SystemClock, WebhookReply,
};

/// The shortest time between two certificate downloads caused by unknown serials, so forged
/// serials cannot make us hammer the API.
const REFRESH_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// WeChat Pay API v3 as a [`PaymentGateway`]. Signs each call, verifies each answer and
/// notification with the platform keys (downloading them when a serial is new), decrypts
/// notifications, and maps WeChat's error codes to [`GatewayError`].
pub struct WechatPayGateway<T> {
    config: WechatPayConfig,
    keys: PlatformKeys,
    transport: T,
    clock: Arc<dyn Clock>,
    last_refresh: Mutex<Option<DateTime<Utc>>>,
}

impl<T> std::fmt::Debug for WechatPayGateway<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPayGateway").field("config", &self.config).field("serials", &self.keys.serials()).finish()
    }
}

/// An answer that was verified (or needed no verification).
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl<T: HttpTransport> WechatPayGateway<T> {
    /// A gateway with no platform keys yet: the first call downloads them.
    pub fn new(config: WechatPayConfig, transport: T) -> WechatPayGateway<T> {
        WechatPayGateway {
            config,
            keys: PlatformKeys::new(),
            transport,
            clock: Arc::new(SystemClock),
            last_refresh: Mutex::new(None),
        }
    }

    /// The same gateway reading the time from `clock` (signatures and their tolerance).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> WechatPayGateway<T> {
        self.clock = clock;
        self
    }

    /// The platform keys (to add a platform public key, or to see which serials are known).
    pub fn platform_keys(&self) -> &PlatformKeys {
        &self.keys
    }

    /// The configuration.
    pub fn config(&self) -> &WechatPayConfig {
        &self.config
    }

    /// Downloads the platform certificates and adds their keys. The answer is verified with
    /// the keys known plus the downloaded ones (it is signed by one of them, and the
    /// certificates decrypt only with our APIv3 key). Returns how many keys it holds.
    pub async fn refresh_certificates(&self) -> Result<usize, WechatPayError> {
        *self.last_refresh.lock().unwrap_or_else(PoisonError::into_inner) = Some(self.clock.now());
        let (status, raw) =
            self.send(&ApiRequest { method: "GET", path: "/v3/certificates".into(), body: String::new() }).await?;
        if !(200..300).contains(&status) {
            return Err(api::api_error(status, &raw.body));
        }
        let downloaded = decode_certificates(&self.config.api_v3_key, &raw.body)?;
        let headers = SignatureHeaders::of(&raw)?;
        verify::check_timestamp(headers.timestamp, self.clock.now(), self.config.tolerance)?;
        let key = downloaded
            .iter()
            .find(|(serial, _)| serial == headers.serial)
            .map(|(_, key)| key.clone())
            .or_else(|| self.keys.get(headers.serial))
            .ok_or_else(|| WechatPayError::UnknownSerial(headers.serial.to_owned()))?;
        verify::verify_signature(&key, &headers.message(&raw.body), headers.signature)?;
        for (serial, key) in downloaded {
            self.keys.insert(serial, key);
        }
        Ok(self.keys.serials().len())
    }

    /// Verifies a message from WeChat Pay; a serial we do not know triggers one certificate
    /// download (at most one a minute), then the check again.
    pub async fn verify(&self, raw: &RawMessage, now: DateTime<Utc>) -> Result<(), WechatPayError> {
        match verify::verify(&self.keys, raw, now, self.config.tolerance) {
            Err(WechatPayError::UnknownSerial(serial)) => {
                let recent = self
                    .last_refresh
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some_and(|at| self.clock.now().signed_duration_since(at) < REFRESH_INTERVAL);
                if recent {
                    return Err(WechatPayError::UnknownSerial(serial));
                }
                self.refresh_certificates().await?;
                verify::verify(&self.keys, raw, now, self.config.tolerance)
            }
            other => other,
        }
    }

    /// Signs and sends one call.
    async fn send(&self, request: &ApiRequest) -> Result<(u16, RawMessage), WechatPayError> {
        let timestamp = self.clock.now().timestamp();
        let authorization =
            Authorization::sign(&self.config, request.method, &request.path, timestamp, sign::nonce()?, &request.body)?;
        let mut headers = vec![
            ("Authorization".to_owned(), authorization.header()),
            ("Accept".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), concat!("orderflow/", env!("CARGO_PKG_VERSION")).to_owned()),
        ];
        if request.method != "GET" {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        let http = HttpRequest {
            method: request.method,
            url: format!("{}{}", self.config.base_url.trim_end_matches('/'), request.path),
            headers,
            body: request.body.clone().into_bytes(),
        };
        let response = self.transport.send(http).await.map_err(|e| WechatPayError::Transport(e.0))?;
        Ok((response.status, response.message))
    }

    /// Sends a call and checks the answer's signature. Answers that only ask for a retry
    /// (429, 5xx) are not required to be signed: believing a forged one only delays.
    async fn call(&self, request: &ApiRequest) -> Result<Answer, WechatPayError> {
        let (status, raw) = self.send(request).await?;
        if status == 429 || status >= 500 {
            return Err(api::api_error(status, &raw.body));
        }
        self.verify(&raw, self.clock.now()).await?;
        if (200..300).contains(&status) {
            Ok(Answer { status, body: raw.body })
        } else {
            Err(api::api_error(status, &raw.body))
        }
    }

    async fn create(&self, request: &PaymentRequest) -> Result<PaymentSession, WechatPayError> {
        let answer = self.call(&api::create(&self.config, request)?).await?;
        api::session(&self.config, &request.checkout, &answer.body, self.clock.now().timestamp(), sign::nonce()?)
    }

    async fn query(&self, order: &OrderNumber) -> Result<Option<PaymentNotification>, WechatPayError> {
        match self.call(&api::query(&self.config, order)).await {
            Ok(answer) => {
                let transaction: api::Transaction = api::parse(&answer.body, "transaction")?;
                Ok(transaction
                    .into_notification(&self.config)?
                    .filter(|paid| paid.status == crate::ports::PaymentStatus::Succeeded))
            }
            Err(WechatPayError::Api { code, .. }) if code == "ORDER_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn close(&self, order: &OrderNumber) -> Result<CloseOutcome, WechatPayError> {
        match self.call(&api::close(&self.config, order)).await {
            Ok(answer) if answer.status == 204 || answer.status == 200 => Ok(CloseOutcome::Closed),
            Ok(answer) => Err(WechatPayError::Malformed(format!("close answered {}", answer.status))),
            Err(WechatPayError::Api { code, .. }) if code == "ORDER_NOT_EXIST" => Ok(CloseOutcome::NothingToClose),
            Err(e) => Err(e),
        }
    }

    async fn query_refund_status(
        &self,
        order: &OrderNumber,
        refund: RefundId,
    ) -> Result<Option<RefundNotification>, WechatPayError> {
        match self.call(&api::refund_query(order, refund)).await {
            Ok(answer) => {
                let resource: api::RefundResource = api::parse(&answer.body, "refund")?;
                Ok(Some(resource.into_notification(&self.config)?))
            }
            Err(WechatPayError::Api { code, .. }) if code == "RESOURCE_NOT_EXISTS" || code == "ORDER_NOT_EXIST" => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn make_refund(&self, request: &RefundRequest) -> Result<RefundReceipt, WechatPayError> {
        let answer = self.call(&api::refund(&self.config, request)?).await?;
        api::refund_receipt(&answer.body)
    }
}

impl<T: HttpTransport> PaymentGateway for WechatPayGateway<T> {
    async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentSession, GatewayError> {
        Ok(self.create(request).await?)
    }

    async fn verify_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<PaymentNotification, GatewayError> {
        self.verify(raw, now).await?;
        Ok(notification::payment(&self.config, &raw.body)?)
    }

    async fn query_payment(
        &self,
        order_number: &OrderNumber,
        _provider: &str,
    ) -> Result<Option<PaymentNotification>, GatewayError> {
        Ok(self.query(order_number).await?)
    }

    async fn close_payment(&self, order_number: &OrderNumber, _provider: &str) -> Result<CloseOutcome, GatewayError> {
        Ok(self.close(order_number).await?)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, GatewayError> {
        Ok(self.make_refund(request).await?)
    }

    async fn verify_refund_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<RefundNotification, GatewayError> {
        self.verify(raw, now).await?;
        Ok(notification::refund(&self.config, &raw.body)?)
    }

    async fn query_refund(
        &self,
        order_number: &OrderNumber,
        refund: RefundId,
        _provider: &str,
    ) -> Result<Option<RefundNotification>, GatewayError> {
        Ok(self.query_refund_status(order_number, refund).await?)
    }

    fn reply(&self, handled: bool) -> WebhookReply {
        notification::reply(handled)
    }
}
