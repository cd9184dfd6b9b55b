//! Putting the workflow's messages into words: timeline entries, notifications (case updates
//! among them), validation violations, refund reasons and carrier choices
//! ([`Message::CarrierChoice`], [`Localizer::carrier_choice`]) carry a kind and typed
//! parameters, never a sentence; a [`Catalogue`] says them in one language, and a
//! [`Localizer`] adds the shop's time zone.
//!
//! Two catalogues ship: [`English`] (`en`) and [`SimplifiedChinese`] (`zh-CN`). A host
//! changes any message without writing a whole catalogue by wrapping one in [`Overrides`],
//! which answers the kinds it was given and leaves the rest to the catalogue it wraps.
//!
//! Money is written the way each language does: `CNY 270.00` in English (the ISO code: `¥`
//! is the yen's sign too), `¥270.00` in Chinese; always from integer minor units. Times are
//! shown in the localizer's time zone (the shop's, [`crate::WorkflowConfig::time_zone`]).
//!
//! ```
//! use orderflow::locale::{Locale, Localizer, Message, Overrides, Rendered, Tz};
//! use orderflow::timeline::TimelineMessage;
//! use orderflow::{Currency, Money};
//!
//! let paid = TimelineMessage::PaymentReceived { amount: Money::new(27_000, Currency::CNY), txn_id: None };
//! let zh = Localizer::new(Locale::ZhCn.catalogue()).in_zone(Tz::Asia__Shanghai);
//! assert_eq!(zh.timeline(&paid).title, "已付款");
//! assert_eq!(zh.timeline(&paid).body, "¥270.00");
//! assert_eq!(Localizer::new(Locale::En.catalogue()).timeline(&paid).body, "CNY 270.00");
//!
//! // The host's own words for one kind; everything else as the catalogue says it.
//! let shop = Overrides::new(Locale::ZhCn.catalogue()).with("payment_received", |message, cx| match message {
//!     Message::Timeline(TimelineMessage::PaymentReceived { amount, .. }) => {
//!         Some(Rendered::new("收款成功", cx.money(amount)))
//!     }
//!     _ => None,
//! });
//! let shop = Localizer::new(shop);
//! assert_eq!(shop.timeline(&paid).title, "收款成功");
//! ```

mod en;
mod overrides;
mod zh_cn;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::carrier_choice::ChoiceReason;
use crate::effect::Notification;
use crate::money::Money;
use crate::order::RefundReason;
use crate::timeline::{TimelineEntry, TimelineMessage};
use crate::validation::Violation;

pub use chrono_tz::Tz;
pub use en::English;
pub use overrides::{Override, Overrides};
pub use zh_cn::SimplifiedChinese;

/// A language the library ships words for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    /// English (`en`).
    #[default]
    #[serde(rename = "en")]
    En,
    /// Simplified Chinese as written in mainland China (`zh-CN`).
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    /// Both, for hosts that offer a choice and for tests.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// The BCP 47 tag (`en`, `zh-CN`).
    pub const fn tag(&self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The catalogue shipped for this language.
    pub fn catalogue(&self) -> Arc<dyn Catalogue> {
        match self {
            Locale::En => Arc::new(English),
            Locale::ZhCn => Arc::new(SimplifiedChinese),
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A tag the library has no words for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no messages for locale {0:?}: use en or zh-CN")]
pub struct UnknownLocale(pub String);

impl FromStr for Locale {
    type Err = UnknownLocale;

    /// Reads a BCP 47 tag as a browser or an app sends it: `en`, `en-US`, `zh-CN`, `zh_CN`,
    /// `zh-Hans`, `zh-Hans-CN` (case-insensitive); other languages are an error.
    fn from_str(tag: &str) -> Result<Locale, UnknownLocale> {
        let lower = tag.trim().to_ascii_lowercase().replace('_', "-");
        let mut parts = lower.split('-');
        match (parts.next(), parts.next()) {
            (Some("en"), _) => Ok(Locale::En),
            (Some("zh"), None | Some("cn" | "hans" | "sg")) => Ok(Locale::ZhCn),
            _ => Err(UnknownLocale(tag.chars().take(35).collect())),
        }
    }
}

/// A message in words: a title (a timeline entry's headline, a notification's subject, the
/// field a violation is about) and its body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// A few words.
    pub title: String,
    /// The rest (may be empty).
    pub body: String,
}

impl Rendered {
    /// A title and a body.
    pub fn new(title: impl Into<String>, body: impl Into<String>) -> Rendered {
        Rendered { title: title.into(), body: body.into() }
    }
}

/// Anything the workflow says, with its typed parameters: what a [`Catalogue`] renders.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    /// A timeline entry.
    Timeline(&'a TimelineMessage),
    /// A notification (case updates among them).
    Notification(&'a Notification),
    /// A problem found in a placement form.
    Violation(&'a Violation),
    /// Why a refund is made: what the engine tells the payment provider in the shop's language
    /// (WeChat Pay's `reason`, Alipay's `refund_reason`), in the body.
    RefundReason(&'a RefundReason),
    /// Why a carrier was chosen for a parcel (the reason of a staff timeline's
    /// `carrier_chosen` entry, shown on its own), in the body.
    CarrierChoice(&'a ChoiceReason),
}

impl Message<'_> {
    /// The message's kind: the name of its variant (`shipped`, `case_update`, `too_long`, …),
    /// unique within its family; what [`Overrides`] are keyed on.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Timeline(m) => m.kind(),
            Message::Notification(n) => n.kind.name(),
            Message::Violation(v) => v.rule.kind(),
            Message::RefundReason(_) => "refund_reason",
            Message::CarrierChoice(_) => "carrier_choice",
        }
    }
}

/// The words of one language for every message.
///
/// Implementations match exhaustively on the message enums, so a new kind does not compile
/// until every catalogue has words for it. `cx` formats money and times (in the localizer's
/// time zone) and is how a wrapped catalogue reaches the outermost one's formats.
pub trait Catalogue: Send + Sync {
    /// The language.
    fn locale(&self) -> Locale;

    /// An amount as this language writes it (integer minor units, no floats).
    fn money(&self, amount: &Money) -> String;

    /// A time, already in the shop's zone, as this language writes it.
    fn time(&self, at: &DateTime<Tz>) -> String;

    /// The message in words.
    fn render(&self, message: Message<'_>, cx: &Context<'_>) -> Rendered;
}

impl<C: Catalogue + ?Sized> Catalogue for Arc<C> {
    fn locale(&self) -> Locale {
        (**self).locale()
    }
    fn money(&self, amount: &Money) -> String {
        (**self).money(amount)
    }
    fn time(&self, at: &DateTime<Tz>) -> String {
        (**self).time(at)
    }
    fn render(&self, message: Message<'_>, cx: &Context<'_>) -> Rendered {
        (**self).render(message, cx)
    }
}

/// What a catalogue formats with while it renders: the outermost catalogue's money and time
/// formats and the time zone.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    catalogue: &'a dyn Catalogue,
    zone: Tz,
}

impl Context<'_> {
    /// An amount in the catalogue's language.
    pub fn money(&self, amount: &Money) -> String {
        self.catalogue.money(amount)
    }

    /// A time in the time zone, in the catalogue's language.
    pub fn time(&self, at: &DateTime<Utc>) -> String {
        self.catalogue.time(&at.with_timezone(&self.zone))
    }

    /// The time zone times are shown in.
    pub fn zone(&self) -> Tz {
        self.zone
    }
}

/// A catalogue and a time zone: how one shop (or one buyer) is spoken to.
///
/// [`Localizer::for_shop`] takes both from the workflow's configuration; a buyer who chose
/// another language gets [`Localizer::with_catalogue`] of the shop's.
#[derive(Clone)]
pub struct Localizer {
    catalogue: Arc<dyn Catalogue>,
    zone: Tz,
}

impl fmt::Debug for Localizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Localizer").field("locale", &self.catalogue.locale()).field("zone", &self.zone).finish()
    }
}

impl Localizer {
    /// Speaks through `catalogue`, times in UTC.
    pub fn new(catalogue: impl Catalogue + 'static) -> Localizer {
        Localizer { catalogue: Arc::new(catalogue), zone: Tz::UTC }
    }

    /// The shop's language and time zone ([`crate::WorkflowConfig::locale`] and
    /// [`crate::WorkflowConfig::time_zone`]).
    pub fn for_shop(config: &crate::WorkflowConfig) -> Localizer {
        Localizer { catalogue: config.locale.catalogue(), zone: config.time_zone }
    }

    /// The same, with times in `zone`.
    pub fn in_zone(self, zone: Tz) -> Localizer {
        Localizer { zone, ..self }
    }

    /// The same time zone, another catalogue (a buyer's own language, or the shop's words
    /// wrapped in [`Overrides`]).
    pub fn with_catalogue(&self, catalogue: impl Catalogue + 'static) -> Localizer {
        Localizer { catalogue: Arc::new(catalogue), zone: self.zone }
    }

    /// The language.
    pub fn locale(&self) -> Locale {
        self.catalogue.locale()
    }

    /// The time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Any message in words.
    pub fn render(&self, message: Message<'_>) -> Rendered {
        let cx = Context { catalogue: &*self.catalogue, zone: self.zone };
        self.catalogue.render(message, &cx)
    }

    /// A timeline entry's message in words.
    pub fn timeline(&self, message: &TimelineMessage) -> Rendered {
        self.render(Message::Timeline(message))
    }

    /// A timeline entry on one line: its time in the zone, title, detail and (staff view)
    /// who did it.
    pub fn entry(&self, entry: &TimelineEntry) -> String {
        let words = self.timeline(&entry.message);
        let cx = Context { catalogue: &*self.catalogue, zone: self.zone };
        let mut line = format!("{}  {}", cx.time(&entry.at), words.title);
        if !words.body.is_empty() {
            line.push_str(self.separator());
            line.push_str(&words.body);
        }
        if let Some(actor) = &entry.actor {
            line.push_str(&format!("  [{actor}]"));
        }
        line
    }

    /// A notification in words (subject and text).
    pub fn notification(&self, notification: &Notification) -> Rendered {
        self.render(Message::Notification(notification))
    }

    /// Why a refund is made, as words for the payment provider to show the buyer.
    pub fn refund_reason(&self, reason: &RefundReason) -> String {
        self.render(Message::RefundReason(reason)).body
    }

    /// Why a carrier was chosen for a parcel, as words for the shop's staff.
    pub fn carrier_choice(&self, reason: &ChoiceReason) -> String {
        self.render(Message::CarrierChoice(reason)).body
    }

    /// A violation as one sentence, for the form's field it names.
    pub fn violation(&self, violation: &Violation) -> String {
        self.render(Message::Violation(violation)).body
    }

    /// An amount in the language.
    pub fn money(&self, amount: &Money) -> String {
        self.catalogue.money(amount)
    }

    /// A time in the zone and the language.
    pub fn time(&self, at: &DateTime<Utc>) -> String {
        self.catalogue.time(&at.with_timezone(&self.zone))
    }

    /// Between a title and its detail: `": "` in English, `"："` in Chinese.
    fn separator(&self) -> &'static str {
        match self.catalogue.locale() {
            Locale::En => ": ",
            Locale::ZhCn => "：",
        }
    }
}

/// The minor units of `amount` as a decimal without sign, and the sign.
pub(crate) fn unsigned_decimal(amount: &Money) -> (&'static str, String) {
    let text = amount.to_decimal_string();
    match text.strip_prefix('-') {
        Some(rest) => ("-", rest.to_owned()),
        None => ("", text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_read_as_browsers_send_them() {
        for tag in ["en", "en-US", "EN_gb"] {
            assert_eq!(tag.parse::<Locale>(), Ok(Locale::En), "{tag}");
        }
        for tag in ["zh-CN", "zh_cn", "zh", "zh-Hans", "zh-Hans-CN"] {
            assert_eq!(tag.parse::<Locale>(), Ok(Locale::ZhCn), "{tag}");
        }
        for tag in ["zh-TW", "zh-Hant", "fr", ""] {
            assert!(tag.parse::<Locale>().is_err(), "{tag}");
        }
        assert_eq!(Locale::ZhCn.to_string(), "zh-CN");
        assert_eq!(serde_json::to_string(&Locale::ZhCn).ok().as_deref(), Some("\"zh-CN\""));
    }
}
