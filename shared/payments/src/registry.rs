//! The providers a function can use, built once per cold start from the environment: each
//! provider's Secrets Manager secret (`STRIPE_SECRET_ARN`, `PAYPAL_SECRET_ARN`,
//! `VNPAY_SECRET_ARN`, `MOMO_SECRET_ARN`) and base URLs (`STRIPE_API_URL`, `STRIPE_CONFIRM_URL`,
//! `PAYPAL_API_URL`, `VNPAY_PAY_URL`, `VNPAY_API_URL`, `MOMO_API_URL`). In AWS the URLs are
//! the providers'; locally they point at the payment sandbox. A provider whose secret ARN is
//! unset is not offered; one whose secret cannot be read stops the cold start.

use std::sync::Arc;

use crate::{
    Momo, MomoConfig, PaymentProvider, Paypal, PaypalConfig, ProviderKind, Stripe, StripeConfig,
    Vnpay, VnpayConfig,
};

#[derive(Debug, Clone, Default)]
pub struct Providers {
    stripe: Option<Arc<dyn PaymentProvider>>,
    paypal: Option<Arc<dyn PaymentProvider>>,
    vnpay: Option<Arc<dyn PaymentProvider>>,
    momo: Option<Arc<dyn PaymentProvider>>,
}

fn url(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

impl Providers {
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let secret = |var| shared::state::secret_from_env(sdk, var);
        let http = crate::http_client();
        let mut providers = Self::default();
        if let Some(s) = secret("STRIPE_SECRET_ARN").await? {
            let config = StripeConfig::from_secret_json(
                &s,
                &url("STRIPE_API_URL", "https://api.stripe.com"),
                &url(
                    "STRIPE_CONFIRM_URL",
                    "https://checkout.example.com/pay/stripe",
                ),
            )?;
            providers.stripe = Some(Arc::new(Stripe::new(config, http.clone())));
        }
        if let Some(s) = secret("PAYPAL_SECRET_ARN").await? {
            let config = PaypalConfig::from_secret_json(
                &s,
                &url("PAYPAL_API_URL", "https://api-m.paypal.com"),
            )?;
            providers.paypal = Some(Arc::new(Paypal::new(config, http.clone())));
        }
        if let Some(s) = secret("VNPAY_SECRET_ARN").await? {
            let config = VnpayConfig::from_secret_json(
                &s,
                &url(
                    "VNPAY_PAY_URL",
                    "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
                ),
                &url(
                    "VNPAY_API_URL",
                    "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
                ),
            )?;
            providers.vnpay = Some(Arc::new(Vnpay::new(config, http.clone())));
        }
        if let Some(s) = secret("MOMO_SECRET_ARN").await? {
            let config =
                MomoConfig::from_secret_json(&s, &url("MOMO_API_URL", "https://payment.momo.vn"))?;
            providers.momo = Some(Arc::new(Momo::new(config, http)));
        }
        Ok(providers)
    }

    pub fn get(&self, kind: ProviderKind) -> Option<&Arc<dyn PaymentProvider>> {
        match kind {
            ProviderKind::Stripe => self.stripe.as_ref(),
            ProviderKind::Paypal => self.paypal.as_ref(),
            ProviderKind::Vnpay => self.vnpay.as_ref(),
            ProviderKind::Momo => self.momo.as_ref(),
        }
    }
}
