//! The one page shell: the document around every page scimgate renders (sign-in and
//! sign-out pages, the gate's 403 and other refusals, `/me`, the admin UI).
//!
//! Every page has the same `<head>` (charset, viewport, `<title>… · scimgate</title>`,
//! the stylesheet and icon of [`super::assets`]) and the same top bar, `<header
//! class="top">` with the scimgate brand; a signed-in page adds its navigation to the
//! bar ([`page`]), the short pages (messages, refusals, sign-in) have the brand alone
//! and a narrow `<main>` ([`narrow_page`]). No page has a script, a `<style>`, a
//! `style` attribute or an event handler: the CSP ([`super::headers::CSP`]) allows
//! none of them, so every look lives in the stylesheet.

use super::assets::HEAD_LINKS;
use super::escape::E;

/// A page of the signed-in UI: `title`, `nav` (markup, escaped by the caller) after the
/// brand in the top bar, and `main` (markup, escaped by the caller).
pub fn page(title: &str, nav: &str, main: &str) -> String {
    document(title, "", nav, "<main>", main)
}

/// A short page (a message, a refusal, a sign-in step): `title` and `main` (markup,
/// escaped by the caller) in a narrow column under the brand.
pub fn narrow_page(title: &str, main: &str) -> String {
    document(title, "", "", "<main class=\"narrow\">", main)
}

/// A short page that sends the browser on to `url` at once (`<meta http-equiv=refresh>`,
/// which the CSP does not govern): a navigation of its own, where a redirect after a
/// form's POST would be held to the form's `form-action`. `main` should link to `url`
/// for browsers that do not refresh.
pub fn refresh_page(title: &str, url: &str, main: &str) -> String {
    let refresh = format!("<meta http-equiv=\"refresh\" content=\"0;url={}\">", E(url));
    document(title, &refresh, "", "<main class=\"narrow\">", main)
}

/// A short page with one message: `title` as its heading, a paragraph of `message`, then
/// `extra` (markup, escaped by the caller: [`links`], a form).
pub fn message_page(title: &str, message: &str, extra: &str) -> String {
    let main = format!(
        "<h1>{}</h1><p class=\"detail\">{}</p>{extra}",
        E(title),
        E(message)
    );
    narrow_page(title, &main)
}

/// A paragraph of links (`href`, label), or nothing.
pub fn links(links: &[(&str, &str)]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let items: Vec<String> = links
        .iter()
        .map(|(href, label)| format!("<a href=\"{}\">{}</a>", E(href), E(label)))
        .collect();
    format!("<p class=\"links\">{}</p>", items.join(" · "))
}

fn document(title: &str, head: &str, nav: &str, main_open: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">{head}\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · scimgate</title>{HEAD_LINKS}</head>\
<body><header class=\"top\"><span class=\"brand\">scimgate</span>{nav}</header>\
{main_open}{main}</main></body></html>\n",
        title = E(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_page_has_the_same_head_and_bar() {
        let pages = [
            page("A <b>", "<a href=\"/x\">X</a>", "<p>one</p>"),
            narrow_page("A <b>", "<p>one</p>"),
            refresh_page("A <b>", "https://idp.example/end?a=1&b=2", "<p>one</p>"),
        ];
        for p in &pages {
            assert!(p.starts_with("<!doctype html>"), "{p}");
            assert!(p.contains("<title>A &lt;b&gt; · scimgate</title>"), "{p}");
            assert!(p.contains(HEAD_LINKS), "{p}");
            assert!(
                p.contains("<header class=\"top\"><span class=\"brand\">scimgate</span>"),
                "{p}"
            );
            assert!(p.contains("<p>one</p></main></body></html>"), "{p}");
        }
        assert!(pages[0].contains("scimgate</span><a href=\"/x\">X</a></header><main>"));
        assert!(pages[1].contains("</header><main class=\"narrow\">"));
        assert!(pages[2].contains("content=\"0;url=https://idp.example/end?a=1&amp;b=2\""));
    }
}
