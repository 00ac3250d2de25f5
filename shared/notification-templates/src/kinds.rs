//! The catalogue of notification kinds.

use crate::{Category, Channel, Priority};

/// One kind of notification.
#[derive(Debug)]
pub struct Kind {
    pub name: &'static str,
    pub category: Category,
    pub priority: Priority,
    /// Channels this kind is sent on (when the user's preferences allow).
    pub channels: &'static [Channel],
    /// Sent even if the user turned the category/channel off (security, payment failed).
    pub always_on: bool,
    /// The variables its templates may use; every one is given when it is rendered.
    pub variables: &'static [&'static str],
    /// Human description for the admin template list.
    pub description: &'static str,
}

impl Kind {
    /// Whether this kind goes out on `channel` at all.
    pub fn uses(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }
}

use Channel::{Email, InApp, Push, Sms};

const EVERYWHERE: &[Channel] = &[InApp, Email, Sms, Push];
const NO_SMS: &[Channel] = &[InApp, Email, Push];

/// Every kind, in the order of the admin template list.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "account_verify_email",
        category: Category::Account,
        priority: Priority::Critical,
        channels: &[Email],
        always_on: true,
        variables: &["name", "url", "token"],
        description: "Welcome e-mail after registration: confirm the address with the link \
            (url = the web app's base URL) or the token, valid 24 hours.",
    },
    Kind {
        name: "password_reset",
        category: Category::Security,
        priority: Priority::Critical,
        channels: &[Email],
        always_on: true,
        variables: &["name", "code", "minutes"],
        description: "The one-time code to reset a forgotten password, valid `minutes` minutes.",
    },
    Kind {
        name: "phone_verification",
        category: Category::Security,
        priority: Priority::Critical,
        channels: &[Sms],
        always_on: true,
        variables: &["code", "minutes"],
        description: "The code texted to a phone number to verify it for SMS notifications.",
    },
    Kind {
        name: "security_alert",
        category: Category::Security,
        priority: Priority::Critical,
        channels: NO_SMS,
        always_on: true,
        variables: &["name", "what", "url"],
        description: "Something changed on the account (roles changed, account disabled, new \
            password set); `what` is a sentence in the recipient's language.",
    },
    Kind {
        name: "org_invitation",
        category: Category::Account,
        priority: Priority::Critical,
        channels: &[Email],
        always_on: true,
        variables: &["org", "role", "url", "token", "days"],
        description: "To an invited address (which may have no account yet): an organisation \
            invites it to join as `role` (in the recipient's language); the token is accepted \
            on sign-up, on login or by POST /api/v1/invitations/accept, once, for `days` days.",
    },
    Kind {
        name: "order_placed",
        category: Category::Orders,
        priority: Priority::Critical,
        channels: EVERYWHERE,
        always_on: false,
        variables: &[
            "name",
            "order_id",
            "shop",
            "total",
            "payment",
            "next_step",
            "url",
        ],
        description: "The buyer's confirmation of a placed order; `payment` says how it is \
            paid (\"cash on delivery\"), `next_step` what happens next (\"Please pay by …\").",
    },
    Kind {
        name: "order_confirmed",
        category: Category::Orders,
        priority: Priority::Critical,
        channels: EVERYWHERE,
        always_on: false,
        variables: &["name", "order_id", "shop", "total", "url"],
        description: "To the buyer: the shop confirmed the order and is preparing it.",
    },
    Kind {
        name: "order_update",
        category: Category::Orders,
        priority: Priority::Important,
        channels: EVERYWHERE,
        always_on: false,
        variables: &["name", "order_id", "shop", "total", "status", "news", "url"],
        description: "To the buyer: the order moved (shipped, delivered, cancelled, returned, \
            refunded); `news` ends the sentence \"Your order X (total) …\", e.g. \"has shipped.\"",
    },
    Kind {
        name: "shop_order",
        category: Category::Orders,
        priority: Priority::Important,
        channels: NO_SMS,
        always_on: false,
        variables: &["order_id", "shop", "total", "status", "news", "url"],
        description: "To the shop's staff: a new order, a cancellation by the buyer or the \
            payment deadline, a return request; `news` ends the sentence \"Order X (total) …\".",
    },
    Kind {
        name: "shop_new_order",
        category: Category::Orders,
        priority: Priority::Important,
        channels: NO_SMS,
        always_on: false,
        variables: &["order_id", "shop", "total", "status", "url"],
        description: "To the shop's staff: a new order waits in the seller centre (its status \
            says whether it is paid or cash on delivery).",
    },
    Kind {
        name: "payment_failed",
        category: Category::Payments,
        priority: Priority::Critical,
        channels: EVERYWHERE,
        always_on: true,
        variables: &["name", "order_id", "shop", "total", "url"],
        description: "To the buyer: the payment of an order failed.",
    },
    Kind {
        name: "refund_issued",
        category: Category::Payments,
        priority: Priority::Important,
        channels: NO_SMS,
        always_on: false,
        variables: &["name", "amount", "provider", "order_ref"],
        description: "To the buyer: a refund is on its way back; `order_ref` is empty or \
            \" for order X\" (in the recipient's language).",
    },
    Kind {
        name: "invoice_issued",
        category: Category::Payments,
        priority: Priority::Important,
        channels: &[InApp, Email],
        always_on: false,
        variables: &["name", "number", "order_id", "total", "url"],
        description: "To the buyer: the invoice of an order is ready to download.",
    },
    Kind {
        name: "stock_low",
        category: Category::Orders,
        priority: Priority::Important,
        channels: NO_SMS,
        always_on: false,
        variables: &["sku", "product_id", "available", "threshold", "url"],
        description: "To the shop's staff: a SKU's stock fell to or below its threshold.",
    },
    Kind {
        name: "shipment_update",
        category: Category::Shipping,
        priority: Priority::Important,
        channels: &[InApp, Sms, Push],
        always_on: false,
        variables: &["order_id", "tracking_number", "status", "news", "url"],
        description: "To the buyer: the parcel is out for delivery, delivered, a delivery \
            attempt failed, or it is returned; `news` ends the sentence \"Your parcel X \
            (order Y) …\".",
    },
    Kind {
        name: "price_alert",
        category: Category::Promotions,
        priority: Priority::Normal,
        channels: NO_SMS,
        always_on: false,
        variables: &["name", "product", "price", "target", "url"],
        description: "To a buyer who asked: a product's price fell to or below their target.",
    },
    Kind {
        name: "promotion",
        category: Category::Promotions,
        priority: Priority::Normal,
        channels: EVERYWHERE,
        always_on: false,
        variables: &["title", "message"],
        description: "An admin's broadcast: their own title and message.",
    },
];

/// The kind named `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}
