//! Charts drawn on the server as SVG (no script): horizontal bars, one per
//! label, with its count. Labels come from tenants' data (outcomes, domain
//! names, plugin failures): maud escapes them like any other text.

use maud::{Markup, html};

/// Bar height and gap, in SVG units.
const BAR: u32 = 22;
const GAP: u32 = 8;
/// Where bars start (after their label) and their longest length.
const LABEL_WIDTH: u32 = 220;
const BAR_WIDTH: u32 = 360;

/// A horizontal bar chart of `rows` (label, value), largest first, with a
/// title for screen readers. Values are shown with `unit` after them.
pub(super) fn bars(title: &str, rows: &[(String, f64)], unit: &str) -> Markup {
    if rows.is_empty() {
        return html! { p.empty { "Nothing in this period." } };
    }
    let max = rows.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let height = rows.len() as u32 * (BAR + GAP);
    let width = LABEL_WIDTH + BAR_WIDTH + 90;
    html! {
        svg.chart role="img" width=(width) height=(height) viewBox=(format!("0 0 {width} {height}"))
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for (i, (label, value)) in rows.iter().enumerate() {
                @let y = i as u32 * (BAR + GAP);
                @let length = ((value / max) * f64::from(BAR_WIDTH)).round().max(1.0);
                text x=(LABEL_WIDTH - 8) y=(y + BAR - 6) text-anchor="end" { (short(label)) }
                rect x=(LABEL_WIDTH) y=(y) width=(length) height=(BAR) rx="3" {}
                text x=(f64::from(LABEL_WIDTH) + length + 6.0) y=(y + BAR - 6) { (number(*value)) " " (unit) }
            }
        }
    }
}

/// A label cut to what fits beside its bar.
fn short(label: &str) -> String {
    const MAX: usize = 32;
    if label.chars().count() <= MAX {
        return label.to_owned();
    }
    let mut cut: String = label.chars().take(MAX - 1).collect();
    cut.push('…');
    cut
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 { format!("{value:.0}") } else { format!("{value:.2}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scaled() {
        let rows = vec![("<script>alert(1)</script>".to_owned(), 4.0), ("\"><img onerror=x>".to_owned(), 2.0)];
        let svg = bars("logins", &rows, "logins").into_string();
        assert!(!svg.contains("<script>") && !svg.contains("<img"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
        assert!(svg.contains(r#"width="360""#) && svg.contains(r#"width="180""#), "{svg}");
    }
}
