//! The catalogue's guarantees: every built-in template checks and renders with every
//! variable it needs, and check/render/digest behave as documented.

use std::collections::BTreeMap;

use unicode_normalization::UnicodeNormalization;

use crate::template::variables;
use crate::*;

/// Every (kind, channel it uses, language), with its built-in template.
fn every_builtin() -> Vec<(&'static Kind, Channel, Language, Template)> {
    let mut all = Vec::new();
    for kind in KINDS {
        for &channel in kind.channels {
            for language in Language::ALL {
                let template = builtin(kind.name, channel, language).unwrap_or_else(|| {
                    panic!("no built-in {} / {channel:?} / {language:?}", kind.name)
                });
                all.push((kind, channel, language, template));
            }
        }
    }
    all
}

fn en_email(kind: &str) -> Template {
    builtin(kind, Channel::Email, Language::En).unwrap()
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn template(title: &str, body: &str) -> Template {
    Template {
        title: title.into(),
        body: body.into(),
    }
}

// ── the catalogue ───────────────────────────────────────────────────────────────────────

#[test]
fn kinds_are_unique_found_by_name_and_use_distinct_channels() {
    assert_eq!(KINDS.len(), 17);
    for (i, k) in KINDS.iter().enumerate() {
        assert_eq!(kind(k.name).map(|f| f.name), Some(k.name));
        assert!(
            KINDS[..i].iter().all(|o| o.name != k.name),
            "{} twice",
            k.name
        );
        assert!(
            !k.channels.is_empty() && !k.variables.is_empty(),
            "{}",
            k.name
        );
        for (j, c) in k.channels.iter().enumerate() {
            assert!(!k.channels[..j].contains(c), "{} lists {c:?} twice", k.name);
        }
        assert!(!k.description.is_empty());
    }
    assert!(kind("no_such_kind").is_none());
    let reset = kind("password_reset").unwrap();
    assert_eq!(
        (reset.category, reset.priority, reset.always_on),
        (Category::Security, Priority::Critical, true)
    );
    assert_eq!(
        kind("shipment_update").unwrap().channels,
        &[Channel::InApp, Channel::Sms, Channel::Push]
    );
    assert!(!kind("order_update").unwrap().always_on);
    assert!(kind("payment_failed").unwrap().always_on);
}

#[test]
fn every_builtin_exists_checks_and_renders_with_its_samples() {
    let all = every_builtin();
    assert_eq!(
        all.len(),
        2 * KINDS.iter().map(|k| k.channels.len()).sum::<usize>()
    );
    for (kind, channel, language, template) in all {
        let at = format!(
            "{} / {} / {}",
            kind.name,
            channel.as_str(),
            language.as_str()
        );
        check(kind, channel, &template).unwrap_or_else(|e| panic!("{at}: {e}"));
        for values in [sample(kind), sample_in(kind, language)] {
            let out = render(channel, language, &template, &values)
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(channel.needs_title(), !out.title.trim().is_empty(), "{at}");
            assert!(!out.text.trim().is_empty(), "{at}");
            for part in [&out.title, &out.text] {
                assert!(!part.contains("{{") && !part.contains("}}"), "{at}: {part}");
            }
            assert!(out.title.chars().count() <= TITLE_LIMIT, "{at}");
            assert!(
                out.text.chars().count() <= channel.body_limit(),
                "{at}: the sample rendering is over the channel's limit"
            );
            assert_eq!(out.html.is_some(), channel == Channel::Email, "{at}");
            if let Some(html) = &out.html {
                assert!(!html.contains("{{"), "{at}");
            }
        }
    }
}

#[test]
fn there_is_no_builtin_for_a_channel_the_kind_does_not_use() {
    let mut unused = 0;
    for kind in KINDS {
        for channel in Channel::ALL.into_iter().filter(|c| !kind.uses(*c)) {
            for language in Language::ALL {
                assert_eq!(builtin(kind.name, channel, language), None, "{}", kind.name);
                unused += 1;
            }
        }
    }
    assert!(unused > 0);
    assert_eq!(builtin("no_such_kind", Channel::Email, Language::En), None);
}

#[test]
fn builtins_use_only_declared_variables_and_every_variable_has_a_sample() {
    for (kind, channel, language, template) in every_builtin() {
        for source in [&template.title, &template.body] {
            for var in variables(source) {
                assert!(
                    kind.variables.contains(&var),
                    "{} / {channel:?} / {language:?} uses undeclared {var}",
                    kind.name
                );
            }
        }
    }
    for kind in KINDS {
        for language in Language::ALL {
            for var in kind.variables {
                let value = crate::sample::value(kind.name, var, language);
                assert!(
                    value.is_some_and(|v| !v.is_empty() || *var == "order_ref"),
                    "{}: no sample of {var} in {language:?}",
                    kind.name
                );
            }
            let keys: Vec<String> = sample_in(kind, language).into_keys().collect();
            let mut declared: Vec<String> = kind.variables.iter().map(|v| v.to_string()).collect();
            declared.sort_unstable();
            assert_eq!(keys, declared, "{}", kind.name);
        }
    }
}

#[test]
fn vietnamese_texts_have_diacritics_in_nfc_and_links_use_the_base_url() {
    for (kind, channel, language, template) in every_builtin() {
        let at = format!("{} / {channel:?} / {language:?}", kind.name);
        for source in [&template.title, &template.body] {
            assert!(source.nfc().eq(source.chars()), "{at}: not NFC");
            assert!(!source.contains("http"), "{at}: links are {{{{url}}}}/path");
        }
        let text = format!("{}{}", template.title, template.body);
        if language == Language::Vi && kind.name != "promotion" {
            assert!(!text.is_ascii(), "{at}: Vietnamese without diacritics?");
        }
        if let Some(at_url) = template.body.find("{{url}}") {
            assert_eq!(
                template.body[at_url + 7..].chars().next(),
                Some('/'),
                "{at}"
            );
        }
    }
}

#[test]
fn english_texts_keep_what_the_end_to_end_tests_read() {
    let verify = en_email("account_verify_email");
    assert!(verify.title.contains("Confirm your e-mail"));
    assert!(
        verify
            .body
            .lines()
            .any(|l| l == "Verification token: {{token}}")
    );
    assert!(verify.body.contains("{{url}}/verify-email?token={{token}}"));
    assert!(verify.body.contains("POST /api/v1/auth/verify-email"));
    assert!(verify.body.contains("24 hours"));

    let reset = en_email("password_reset");
    assert!(reset.title.contains("password reset code"));
    assert!(reset.body.contains("Your password reset code is: {{code}}"));
    assert!(reset.body.contains("{{minutes}} minutes"));

    let invite = en_email("org_invitation");
    assert_eq!(invite.title, "You are invited to join {{org}}");
    assert!(
        invite
            .body
            .contains("{{org}} invites you to join as {{role}}.")
    );
    assert!(
        invite
            .body
            .lines()
            .any(|l| l == "Invitation token: {{token}}")
    );

    let phone = builtin("phone_verification", Channel::Sms, Language::En).unwrap();
    assert!(phone.body.contains("{{code}}"));

    assert_eq!(
        en_email("order_placed").title,
        "Order {{order_id}} placed at {{shop}}"
    );
    let update = en_email("order_update");
    assert_eq!(
        update.title,
        "Your order {{order_id}} at {{shop}}: {{status}}"
    );
    assert!(
        update
            .body
            .contains("Your order {{order_id}} ({{total}}) {{news}}")
    );
    assert_eq!(
        en_email("shop_order").title,
        "Order {{order_id}} for {{shop}}: {{status}}"
    );
    assert_eq!(
        en_email("shop_new_order").title,
        "New order {{order_id}} for {{shop}}"
    );
    let refund = en_email("refund_issued");
    assert_eq!(refund.title, "Refund of {{amount}}");
    assert!(refund.body.contains("through {{provider}}{{order_ref}}"));
    let invoice = en_email("invoice_issued");
    assert_eq!(invoice.title, "Invoice {{number}} for order {{order_id}}");
    assert!(invoice.body.contains("{{url}}/orders/{{order_id}}/invoice"));
    assert_eq!(en_email("stock_low").title, "Low stock: {{sku}}");
    assert_eq!(en_email("price_alert").title, "Price drop: {{product}}");

    let stock = render(
        Channel::Email,
        Language::En,
        &en_email("stock_low"),
        &sample(kind("stock_low").unwrap()),
    )
    .unwrap();
    assert!(stock.text.contains("down to 2"), "{}", stock.text);
}

// ── render ──────────────────────────────────────────────────────────────────────────────

#[test]
fn render_names_each_missing_variable() {
    for (kind, channel, language, template) in every_builtin() {
        let used: Vec<&str> = variables(&template.title)
            .into_iter()
            .filter(|_| channel.needs_title())
            .chain(variables(&template.body))
            .collect();
        for var in used {
            let mut values = sample(kind);
            values.remove(var);
            assert_eq!(
                render(channel, language, &template, &values),
                Err(RenderError {
                    variable: var.to_owned()
                }),
                "{} / {channel:?} / {language:?}",
                kind.name
            );
        }
    }
    let err = render(
        Channel::Sms,
        Language::Vi,
        &template("", "Mã {{ code }} hết hạn sau {{minutes}} phút"),
        &vars(&[("code", "123456")]),
    )
    .unwrap_err();
    assert_eq!(err.variable, "minutes");
    assert_eq!(err.to_string(), "the variable minutes has no value");
}

#[test]
fn render_inserts_values_verbatim_once_and_keeps_lone_braces() {
    let out = render(
        Channel::Push,
        Language::En,
        &template("Hi {{ name }}", "{a} } {{name}}, {{what}}} {"),
        &vars(&[("name", "{{what}}"), ("what", "x & <y>")]),
    )
    .unwrap();
    assert_eq!(out.title, "Hi {{what}}");
    assert_eq!(out.text, "{a} } {{what}}, x & <y>} {");
    assert_eq!(out.html, None);
}

#[test]
fn sms_renders_without_a_title() {
    let out = render(
        Channel::Sms,
        Language::En,
        &template("{{missing}}", "Code {{code}}"),
        &vars(&[("code", "1")]),
    )
    .unwrap();
    assert_eq!((out.title.as_str(), out.text.as_str()), ("", "Code 1"));
}

// ── check ───────────────────────────────────────────────────────────────────────────────

#[test]
fn check_rejects_an_unknown_variable_naming_the_field_and_the_allowed_ones() {
    let order = kind("order_update").unwrap();
    let err = check(
        order,
        Channel::Email,
        &template("Order {{order_id}}", "Hi {{foo}}"),
    )
    .unwrap_err();
    assert_eq!(err.field, "body");
    assert!(
        err.message.contains("unknown variable `{{foo}}`"),
        "{}",
        err.message
    );
    assert!(err.message.contains("{{order_id}}") && err.message.contains("{{news}}"));
    assert!(err.to_string().starts_with("body: "));

    let err = check(order, Channel::Push, &template("{{ bar }}", "{{news}}")).unwrap_err();
    assert_eq!(err.field, "title");
    assert!(err.message.contains("`{{bar}}`"), "{}", err.message);

    let err = check(order, Channel::InApp, &template("t", "{{order id}}")).unwrap_err();
    assert_eq!(err.field, "body");
    assert!(
        err.message.contains("`{{order id}}` is not a placeholder"),
        "{}",
        err.message
    );
}

#[test]
fn check_rejects_an_unclosed_placeholder() {
    let order = kind("order_update").unwrap();
    let err = check(
        order,
        Channel::InApp,
        &template("Đơn", "Đơn {{order_id}} {{news"),
    )
    .unwrap_err();
    assert_eq!(err.field, "body");
    assert!(err.message.contains("never closed"), "{}", err.message);
    assert!(err.message.contains("character 18"), "{}", err.message);
    let err = check(order, Channel::InApp, &template("Order {{", "{{news}}")).unwrap_err();
    assert_eq!(err.field, "title");
}

#[test]
fn check_rejects_an_empty_body() {
    let promo = kind("promotion").unwrap();
    for body in ["", "  \n\t"] {
        let err = check(promo, Channel::InApp, &template("{{title}}", body)).unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.message.contains("empty"));
    }
}

#[test]
fn check_wants_a_title_except_on_sms_where_there_is_none() {
    let promo = kind("promotion").unwrap();
    let err = check(promo, Channel::Sms, &template("{{title}}", "{{message}}")).unwrap_err();
    assert_eq!(err.field, "title");
    assert!(err.message.contains("SMS has no title"));
    assert_eq!(
        check(promo, Channel::Sms, &template("", "{{message}}")),
        Ok(())
    );
    for channel in [Channel::InApp, Channel::Email, Channel::Push] {
        let err = check(promo, channel, &template(" ", "{{message}}")).unwrap_err();
        assert_eq!(err.field, "title", "{channel:?}");
        assert!(err.message.contains("needs a title"));
    }
    let err = check(promo, Channel::Email, &template("a\nb", "{{message}}")).unwrap_err();
    assert_eq!(err.field, "title");
}

#[test]
fn check_counts_characters_against_the_channel_limits() {
    let promo = kind("promotion").unwrap();
    for (channel, limit) in [
        (Channel::Sms, 480),
        (Channel::Push, 1000),
        (Channel::InApp, 4000),
        (Channel::Email, 4000),
    ] {
        let title = if channel == Channel::Sms { "" } else { "t" };
        let at_limit = "ữ".repeat(limit);
        assert_eq!(
            check(promo, channel, &template(title, &at_limit)),
            Ok(()),
            "{channel:?}"
        );
        let err = check(promo, channel, &template(title, &format!("{at_limit}a"))).unwrap_err();
        assert_eq!(err.field, "body", "{channel:?}");
        assert!(
            err.message.contains(&format!("at most {limit}")),
            "{}",
            err.message
        );
    }
    let err = check(promo, Channel::Push, &template(&"x".repeat(201), "b")).unwrap_err();
    assert_eq!(err.field, "title");
    assert_eq!(
        check(promo, Channel::Push, &template(&"ệ".repeat(200), "b")),
        Ok(())
    );
}

#[test]
fn check_accepts_spaced_placeholders_and_lone_braces() {
    let order = kind("order_update").unwrap();
    let t = template(
        "{{ order_id }}: {{status }}",
        "Hi {{ name }}, { } }} {x} {{news}}",
    );
    assert_eq!(check(order, Channel::Email, &t), Ok(()));
    let out = render(Channel::Email, Language::En, &t, &sample(order)).unwrap();
    assert!(
        out.text
            .starts_with("Hi Nguyễn Thu Hà, { } }} {x} has shipped.")
    );
}

// ── html ────────────────────────────────────────────────────────────────────────────────

#[test]
fn html_escapes_values_that_text_keeps_verbatim() {
    let kind = kind("order_update").unwrap();
    let mut values = sample(kind);
    values.insert("news".into(), "<script>alert('x')</script> & more".into());
    values.insert("shop".into(), "A&B \"Shop\"".into());
    let out = render(
        Channel::Email,
        Language::En,
        &en_email("order_update"),
        &values,
    )
    .unwrap();
    assert!(out.text.contains("<script>alert('x')</script> & more"));
    assert!(out.title.contains("A&B \"Shop\""));
    let html = out.html.unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
    assert!(
        html.contains("<title>Your order 01JB7Q2M8X4K9ZP3T6W5R1N0VC at A&amp;B &quot;Shop&quot;")
    );
}

#[test]
fn html_makes_links_paragraphs_and_follows_the_language() {
    for language in Language::ALL {
        let kind = kind("order_update").unwrap();
        let t = builtin(kind.name, Channel::Email, language).unwrap();
        let html = render(Channel::Email, language, &t, &sample_in(kind, language))
            .unwrap()
            .html
            .unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(
            html.contains(&format!("<html lang=\"{}\">", language.as_str())),
            "{html}"
        );
        let link = "https://cho.example.vn/orders/01JB7Q2M8X4K9ZP3T6W5R1N0VC";
        assert!(
            html.contains(&format!("<a href=\"{link}\">{link}</a>")),
            "{html}"
        );
        // "Hello …," is a paragraph of its own; the news and the link are one, two lines
        assert!(html.contains(" Nguyễn Thu Hà,</p>\n<p>"), "{html}");
        assert!(html.contains("<br>\n"), "{html}");
        assert_eq!(html.matches("<p").count(), 3, "{html}");
    }
}

// ── enums ───────────────────────────────────────────────────────────────────────────────

#[test]
fn languages_parse_from_tags_and_fall_back_to_english() {
    for s in [
        "vi",
        "vi-VN",
        "VI",
        "vi_VN",
        " vi ",
        "vi-VN,vi;q=0.9,en;q=0.8",
    ] {
        assert_eq!(Language::parse(s), Some(Language::Vi), "{s}");
    }
    for s in ["en", "en-US", "EN-gb", "en;q=0.5"] {
        assert_eq!(Language::parse(s), Some(Language::En), "{s}");
    }
    for s in ["", "fr", "vie", "vietnamese", "english", "-vi"] {
        assert_eq!(Language::parse(s), None, "{s}");
    }
    assert_eq!(Language::or_default(Some("vi-VN")), Language::Vi);
    assert_eq!(Language::or_default(Some("fr-FR")), Language::En);
    assert_eq!(Language::or_default(None), Language::En);
}

fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Option<T>)
where
    T: Copy + PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    for &v in all {
        let s = as_str(v);
        assert_eq!(parse(s), Some(v));
        assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<T>(&format!("\"{s}\"")).unwrap(), v);
        assert_eq!(parse(&s.to_uppercase()), None, "{s}: exact names only");
    }
    assert_eq!(parse("nonsense"), None);
}

#[test]
fn enums_round_trip_through_as_str_parse_and_serde() {
    round_trips(&Channel::ALL, Channel::as_str, Channel::parse);
    round_trips(&Category::ALL, Category::as_str, Category::parse);
    round_trips(&Priority::ALL, Priority::as_str, Priority::parse);
    for l in Language::ALL {
        assert_eq!(Language::parse(l.as_str()), Some(l));
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            format!("\"{}\"", l.as_str())
        );
    }
    assert_eq!(Channel::InApp.as_str(), "in_app");
    assert_eq!(
        serde_json::from_str::<Channel>("\"in_app\"").unwrap(),
        Channel::InApp
    );
}

#[test]
fn templates_and_renderings_serialize_as_documented() {
    let t: Template = serde_json::from_str(r#"{"body":"{{message}}"}"#).unwrap();
    assert_eq!(t, template("", "{{message}}"));
    let sms = Rendered {
        title: String::new(),
        text: "x".into(),
        html: None,
    };
    assert_eq!(
        serde_json::to_value(&sms).unwrap(),
        serde_json::json!({"title": "", "text": "x"})
    );
}

// ── digest ──────────────────────────────────────────────────────────────────────────────

fn items(n: usize, title: &str, text: &str) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| (format!("{title} {i}"), format!("{text} {i}")))
        .collect()
}

#[test]
fn an_email_digest_lists_every_item() {
    let five = items(5, "Price drop: <Lamp>", "Now 440000 VND");
    for language in Language::ALL {
        let out = digest(Channel::Email, language, &five);
        assert!(out.title.contains('5'), "{}", out.title);
        for (title, text) in &five {
            assert!(out.text.contains(title.as_str()), "{title} in {}", out.text);
            assert!(out.text.contains(text.as_str()));
        }
        let html = out.html.unwrap();
        assert!(html.contains(&format!("lang=\"{}\"", language.as_str())));
        assert!(html.contains("Price drop: &lt;Lamp&gt; 5") && !html.contains("<Lamp>"));
    }
    assert_eq!(
        digest(Channel::Email, Language::En, &five).title,
        "5 new updates"
    );
    assert_eq!(
        digest(Channel::Email, Language::Vi, &five).title,
        "5 thông báo mới"
    );
}

#[test]
fn a_push_digest_lists_titles_only() {
    let three = items(3, "Title", "Body text");
    let out = digest(Channel::Push, Language::En, &three);
    assert_eq!(out.title, "3 new updates");
    assert_eq!(out.text, "• Title 1\n• Title 2\n• Title 3");
    assert_eq!(out.html, None);
}

#[test]
fn an_sms_digest_of_many_long_items_fits_480_characters() {
    let many = items(
        40,
        "Giảm giá: Áo thun cotton trắng cổ tròn, đủ size",
        "Giá mới",
    );
    let out = digest(Channel::Sms, Language::Vi, &many);
    assert_eq!(out.title, "");
    assert!(out.text.starts_with("40 thông báo mới:\n• Giảm giá"));
    assert!(
        out.text.chars().count() <= 480,
        "{}",
        out.text.chars().count()
    );
    assert!(
        out.text.len() > 480,
        "multi-byte text, counted in characters"
    );
    assert!(out.text.ends_with('…'));
    assert!(std::str::from_utf8(out.text.as_bytes()).is_ok());
    assert!(!out.text.contains("Giá mới"), "titles only");

    let long_push = digest(
        Channel::Push,
        Language::En,
        &items(1, &"ệ".repeat(1500), ""),
    );
    assert!(long_push.text.chars().count() <= 1000);
    assert!(long_push.text.ends_with('…'));

    let short = digest(Channel::Sms, Language::En, &items(2, "Price drop", "x"));
    assert_eq!(short.text, "2 new updates:\n• Price drop 1\n• Price drop 2");
}
