//! The briefing as HTML: one self-contained page per ward (styles and
//! drawings inline; no scripts, fonts, images or links that leave the
//! page), a print stylesheet for A4, index pages for a borough and for
//! London, and the combined page a borough's PDF is printed from.

use std::fmt::Write;

use super::context::{Context, ALPHA, BAND_M};
use super::figures::{Briefing, Count, MIN_INCIDENTS, MIN_SEASONAL, POI_NEAR_M};
use super::svg;
use crate::api::html::escape;
use crate::month;

const STYLE: &str = r#"
:root{--ink:#1b1b1b;--muted:#555;--rule:#bbb;--hot:#b2182b;--cold:#2166ac}
*{box-sizing:border-box}
body{font:14px/1.45 "DejaVu Sans","Liberation Sans",Arial,sans-serif;color:var(--ink);max-width:62em;margin:1.5em auto;padding:0 1em}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.15em;margin:1.1em 0 .3em;border-bottom:1px solid var(--rule)}
.sub{color:var(--muted);margin:0}
.headline{font-size:1.25em;font-weight:bold;margin:.6em 0 .3em}
ul.changes{margin:.2em 0 .6em;padding-left:1.2em}
table{border-collapse:collapse;margin:.3em 0;font-size:.92em}
td,th{border-bottom:1px solid #ddd;padding:.15em .5em;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.sig{font-weight:bold}
.note,.few{color:var(--muted)}
.few{font-size:1.1em;border:1px solid var(--rule);padding:.5em}
.row{display:flex;gap:1.2em;align-items:flex-start;break-inside:avoid}.row>div{flex:1 1 0;min-width:0}.row .mapcol{flex:0 0 50%}
svg{display:block}
svg.map{width:100%;max-width:150mm;height:auto;border:1px solid var(--rule)}
svg.chart{width:100%;height:auto}
svg .frame{fill:#fafafa}
svg .neighbour{fill:#f0f0f0;stroke:#999;stroke-width:.8}
svg .ward{fill:none;stroke:#000;stroke-width:2.5}
svg .surge{fill:#7b3294;fill-opacity:.12;stroke:#7b3294;stroke-width:2;stroke-dasharray:6 3}
svg .cell{stroke:none}
svg .hot.b3{fill:#b2182b;fill-opacity:.85}svg .hot.b2{fill:#ef8a62;fill-opacity:.85}svg .hot.b1{fill:#fddbc7;fill-opacity:.9}
svg .cold.b3{fill:#2166ac;fill-opacity:.85}svg .cold.b2{fill:#67a9cf;fill-opacity:.85}svg .cold.b1{fill:#d1e5f0;fill-opacity:.9}
svg .poi{fill:#fff;stroke:#333;stroke-width:1.2}svg .poi.flagged{stroke:#000;stroke-width:3;fill:#ffd400}
svg .poi-label{font-size:12px;font-weight:bold;fill:#000;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .scale-bar .bar{fill:#fff;stroke:#000}svg .scale-bar .bar-half{fill:#000}
svg .scale-bar text,svg .north-arrow text{font-size:13px;fill:#000}
svg .north-arrow path{fill:#000}
svg .grid{stroke:#e2e2e2}svg .axis{font-size:10px;fill:#555}
svg .band{fill:#ccc;fill-opacity:.6}svg .month{fill:#4a4a4a}svg .month.above{fill:var(--hot)}svg .month.below{fill:var(--cold)}
svg .expected{fill:none;stroke:#000;stroke-dasharray:4 3;stroke-width:1.2}
.legend span{display:inline-block;width:1em;height:1em;vertical-align:middle;margin:0 .25em 0 .8em;border:1px solid #999}
footer{margin-top:1.5em;border-top:1px solid var(--rule);font-size:.8em;color:var(--muted)}
footer li{margin:.1em 0}
nav.back{font-size:.9em}
@page{size:A4;margin:9mm 10mm}
@media print{
 body{font-size:8.5pt;line-height:1.32;max-width:none;margin:0;padding:0}
 p.pledge{margin:.4em 0}
 nav.back{display:none}
 h2{margin:.6em 0 .2em;break-after:avoid}
 svg.map{width:85mm;max-width:85mm}
 svg.chart{width:100%}
 .row .mapcol{flex:0 0 85mm;width:85mm}
 footer ul{column-count:2;column-gap:6mm;margin:0;padding-left:1em}
 footer p{margin:.3em 0}
 section.briefing+section.briefing{break-before:page}
 table,figure,svg,tr{break-inside:avoid}
 footer{font-size:6.3pt;margin-top:.5em;line-height:1.2}
}
"#;

/// Schools and stations listed (and numbered on the map); the rest are counted.
pub const MAX_POI_ROWS: usize = 12;

/// A whole HTML document around `body`.
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<link rel=\"icon\" href=\"data:,\">\
<title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

fn num(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn pct(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "&lt; 0.001".into(),
        Some(p) => format!("{p:.3}"),
        None => "–".into(),
    }
}

fn opt(n: Option<u64>) -> String {
    n.map_or("–".into(), |n| n.to_string())
}

fn type_row(c: &Count, class: &str) -> String {
    let sig = |q: Option<f64>| if q.is_some_and(|q| q <= ALPHA) { " sig" } else { "" };
    let rr = match c.rr_year {
        Some((l, h)) if h.is_finite() => format!("{l:.2} to {h:.2}"),
        Some((l, _)) => format!("{l:.2} to ∞"),
        None => "–".into(),
    };
    format!(
        "<tr class=\"{class}\" data-type=\"{t}\" data-current=\"{cur}\" data-previous=\"{prev}\" data-year=\"{year}\">\
<td>{t}</td><td class=\"n\">{cur}</td><td class=\"n\">{prev}</td><td class=\"n{s1}\">{qp}</td>\
<td class=\"n\">{year}</td><td class=\"n\">{rr}</td><td class=\"n{s2}\">{qy}</td></tr>",
        t = escape(&c.crime_type),
        cur = c.current,
        prev = opt(c.previous),
        year = opt(c.year_earlier),
        qp = p_text(c.q_previous),
        qy = p_text(c.q_year),
        s1 = sig(c.q_previous),
        s2 = sig(c.q_year),
    )
}

/// The methods, one line each with its reference.
fn methods(b: &Briefing) -> String {
    let mut m = vec![
        format!("Counts: incidents of the selection ({}) by police.uk month, in the ward's polygon by the ingest's point-in-polygon join.", escape(&b.counted_rule)),
        "Change: exact conditional test of two Poisson counts over equal months (given the sum, the period's count is Binomial(n, ½) under no change; two-sided, doubled smaller tail; Przyborowski &amp; Wilenski 1940, Krishnamoorthy &amp; Thomson 2004); rate ratio interval: Clopper–Pearson on the binomial proportion mapped by p/(1−p). \"Significant\": Benjamini–Hochberg q ≤ 0.05 across the crime types of the page (Benjamini &amp; Hochberg 1995); the all-crime line is tested on its own.".to_string(),
        "Rates: incidents in the period per km² of the ward, the borough and all wards (areas from the boundary files).".to_string(),
        format!("Seasonal band: expected count = the ward's mean month over the chart's months × the month-of-year index (mean count in that calendar month over the mean month) of the ward, or of the borough when the ward has fewer than {MIN_SEASONAL} incidents in those months; band = central 95 % of a Poisson count with that mean. It describes the usual pattern; it is not a forecast."),
        format!("Hot and cold cells: Getis-Ord Gi* (Ord &amp; Getis 1995) on {} m square cells over all London, binary distance band {BAND_M:.0} m, two-sided normal p, Benjamini–Hochberg FDR, ArcGIS confidence bins 90/95/99 %.", b.cell_m),
        "Schools and stations: incidents within 200 m against London's rate for the circle's area inside London, ranked by the lower bound of the empirical-Bayes (Poisson–gamma, Marshall 1991) relative risk; flagged when that bound is above 1 (the poi-risk layer).".to_string(),
        format!("Emerging hot spots: space-time Gi* on {} m cells, {BAND_M:.0} m band, one month's time step, FDR, Mann–Kendall trend, ArcGIS Emerging Hot Spot Analysis categories, over the chart's months.", b.cell_m),
        "Outcomes: police.uk's last outcome category of each incident in the period (as published; outcomes are updated later, so recent months show more \"under investigation\").".to_string(),
    ];
    if b.harm.is_some() {
        m.push("Harm: each incident weighs the days of its crime type in the harm table given (Cambridge Crime Harm Index style; Sherman, Neyroud &amp; Neyroud 2016).".into());
    }
    m.into_iter().map(|l| format!("<li>{l}</li>")).collect()
}

/// One ward's briefing, the part inside `<body>` (a `<section>`).
pub fn section(b: &Briefing, generated: &str) -> String {
    let mut s = String::with_capacity(96 * 1024);
    let compare = match (b.year_earlier, b.previous) {
        (Some(y), Some(p)) => format!(
            "compared with the same months a year earlier ({}) and the previous {} months ({})",
            y.label(),
            b.months,
            p.label()
        ),
        (Some(y), None) => format!("compared with the same months a year earlier ({})", y.label()),
        (None, Some(p)) => format!(
            "compared with the previous {} months ({}); the dataset has no months a year earlier",
            b.months,
            p.label()
        ),
        (None, None) => "the dataset has no earlier months to compare with".into(),
    };
    let _ = write!(
        s,
        "<section class=\"briefing\" data-ward=\"{code}\"><h1>{name} ward briefing</h1>\
<p class=\"sub\">{borough} · ward {code} · {area} km² · the latest {months} months in the dataset, {period}</p>\
<p class=\"sub\">{compare}.</p>",
        code = escape(&b.code),
        name = escape(&b.name),
        borough = if b.borough_name.is_empty() {
            "borough unknown".into()
        } else {
            escape(&b.borough_name)
        },
        area = num(b.area_km2),
        months = b.months,
        period = b.period.label(),
    );
    let _ = write!(
        s,
        "<p class=\"headline\" data-count=\"{}\">{}</p>",
        b.total.current,
        escape(&b.total.sentence(b.months))
    );
    let mut changes: Vec<String> = b
        .by_type
        .iter()
        .filter(|t| t.current > 0 || t.year_earlier.unwrap_or(0) > 0)
        .take(6)
        .map(|t| format!("<li>{}</li>", escape(&t.sentence(b.months))))
        .collect();
    if !changes.is_empty() {
        changes.insert(0, "<ul class=\"changes\">".into());
        changes.push("</ul>".into());
        s.push_str(&changes.concat());
    }
    let _ = write!(
        s,
        "<p class=\"rates\">Incidents per km² in the period: ward <b class=\"rate-ward\">{}</b>, borough {}, London {}.</p>",
        num(b.rate_ward),
        b.rate_borough.map_or("–".into(), num),
        num(b.rate_london)
    );
    s.push_str("<h2>By crime type</h2><table class=\"types\"><tr><th>crime type</th><th class=\"n\">period</th><th class=\"n\">previous</th><th class=\"n\">q</th><th class=\"n\">year earlier</th><th class=\"n\">ratio, 95 %</th><th class=\"n\">q</th></tr>");
    s.push_str(&type_row(&b.total, "total"));
    for t in &b.by_type {
        s.push_str(&type_row(t, "type"));
    }
    s.push_str("</table><p class=\"note\">q: Benjamini–Hochberg adjusted p of the change across crime types; bold when 0.05 or less. Ratio: period over year earlier, exact 95 % interval.</p>");
    if b.few {
        let _ = write!(
            s,
            "<p class=\"few\">Too few incidents for hotspot statistics: {} in the period, fewer than {MIN_INCIDENTS}. \
The counts above are exact; hot spots, trends, the seasonal band and rankings would not be reliable at this size, so they are left out.</p>",
            b.total.current
        );
        let _ = write!(s, "<h2>Map</h2><figure>{}</figure>", svg::map(b));
    } else {
        let _ = write!(
            s,
            "<h2>Month by month, {}</h2><figure>{}<figcaption class=\"note\">Bars: incidents a month (red above the band, blue below). Dashed line and grey band: the expected count and its usual range from {}.</figcaption></figure>",
            b.chart.label(),
            svg::chart(b),
            escape(&b.seasonal_source)
        );
        s.push_str("<div class=\"page2\"><div class=\"row\"><div class=\"mapcol\">");
        let hot_text = match &b.hotspot_note {
            Some(n) => format!("Hot spot cells could not be computed: {}.", escape(n)),
            None => format!(
                "{} hot and {} cold {} m cells have their centre in the ward (Gi*, FDR; 90, 95, 99 % shaded light to dark).",
                b.hot_in_ward, b.cold_in_ward, b.cell_m
            ),
        };
        let _ = write!(
            s,
            "<h2>Map: hot and cold spots, schools and stations</h2><figure>{}<figcaption class=\"legend note\">\
<span style=\"background:#b2182b\"></span>hot spot<span style=\"background:#2166ac\"></span>cold spot\
<span style=\"background:#fff;border-radius:50%\"></span>school<span style=\"background:#fff\"></span>station\
<span style=\"background:#ffd400;border:2px solid #000\"></span>above London's rate (flagged)\
<span style=\"background:#efe4f4;border:2px dashed #7b3294;border-radius:50%\"></span>surge-team area (rank in London's plan on hover) · grey: neighbouring wards · grid north up · {hot_text} · {surge_text}</figcaption></figure>",
            svg::map(b),
            surge_text = match &b.surge_note {
                Some(n) => escape(n),
                None => format!(
                    "{} surge-team area{} of London's plan touch{} the ward",
                    b.surge.len(),
                    if b.surge.len() == 1 { "" } else { "s" },
                    if b.surge.len() == 1 { "es" } else { "" }
                ),
            }
        );
        s.push_str("</div><div><h2>Places with most incidents</h2>");
        if b.places.is_empty() {
            s.push_str("<p class=\"note\">No incident in the period has a location.</p>");
        } else {
            let earlier = if b.year_earlier.is_some() {
                "year earlier"
            } else {
                "previous"
            };
            let _ = write!(s, "<table class=\"places\"><tr><th>location (police.uk map point)</th><th class=\"n\">period</th><th class=\"n\">{earlier}</th><th class=\"n\">change</th></tr>");
            for p in &b.places {
                let change = p
                    .earlier
                    .map_or("–".into(), |e| format!("{:+}", p.current as i64 - e as i64));
                let _ = write!(
                    s,
                    "<tr data-location=\"{l}\" data-current=\"{c}\"><td>{l}</td><td class=\"n\">{c}</td><td class=\"n\">{e}</td><td class=\"n\">{change}</td></tr>",
                    l = escape(&p.location),
                    c = p.current,
                    e = opt(p.earlier)
                );
            }
            s.push_str("</table>");
        }
        s.push_str("</div></div>");
        let _ = write!(
            s,
            "<h2>Schools and stations in or within {POI_NEAR_M:.0} m of the ward</h2>"
        );
        if b.pois.is_empty() {
            let _ = write!(
                s,
                "<p class=\"note\">{}.</p>",
                escape(b.poi_note.as_deref().unwrap_or("none"))
            );
        } else {
            s.push_str("<table class=\"pois\"><tr><th>#</th><th>name</th><th>kind</th><th class=\"n\">incidents within 200 m</th><th class=\"n\">risk vs London (EB), 95 %</th><th class=\"n\">London rank</th><th></th></tr>");
            for (k, p) in b.pois.iter().enumerate().take(MAX_POI_ROWS) {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2} ({:.2} to {:.2})</td><td class=\"n\">{}</td><td>{}</td></tr>",
                    k + 1,
                    escape(&p.name),
                    escape(&p.kind),
                    p.count_200,
                    p.rr_eb,
                    p.rr_eb_low,
                    p.rr_eb_high,
                    p.rank.map_or("not ranked".into(), |r| format!("{r} of {}", p.ranked_of)),
                    if p.flagged { "<b>above London's rate</b>" } else { "" }
                );
            }
            s.push_str("</table>");
            if b.pois.len() > MAX_POI_ROWS {
                let _ = write!(
                    s,
                    "<p class=\"note\">and {} more, lower in London's ranking (all are in the poi-risk layer).</p>",
                    b.pois.len() - MAX_POI_ROWS
                );
            }
        }
        let _ = write!(
            s,
            "<p class=\"pledge\"><b>Is it working? The violence pledge in the borough.</b> {}</p>",
            escape(&b.pledge_line)
        );
        s.push_str("<div class=\"row\"><div><h2>Emerging hot spot categories of the ward's cells</h2>");
        if b.emerging.is_empty() {
            let _ = write!(
                s,
                "<p class=\"note\">{}.</p>",
                escape(b.emerging_note.as_deref().unwrap_or("none"))
            );
        } else {
            s.push_str("<table class=\"emerging\"><tr><th>category</th><th class=\"n\">cells</th></tr>");
            for (c, n) in &b.emerging {
                let _ = write!(s, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", escape(c));
            }
            s.push_str("</table>");
        }
        s.push_str("</div><div><h2>Outcomes</h2><table class=\"outcomes\"><tr><th>last outcome</th><th class=\"n\">ward</th><th class=\"n\">share</th><th class=\"n\">borough share</th></tr>");
        for o in &b.outcomes {
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&o.outcome),
                o.ward,
                pct(o.ward_share),
                o.borough_share.map_or("–".into(), pct)
            );
        }
        s.push_str("</table></div></div>");
        if let Some(harm) = &b.harm {
            let total: f64 = harm.iter().map(|h| h.current_days).sum();
            let earlier: Option<f64> = harm.iter().map(|h| h.earlier_days).sum();
            let _ = write!(
                s,
                "<h2>Harm</h2><p>Total harm in the period: <b>{total:.0} days</b>{}.</p><table class=\"harm\"><tr><th>crime type</th><th class=\"n\">days each</th><th class=\"n\">period, days</th><th class=\"n\">earlier, days</th></tr>",
                earlier.map_or(String::new(), |e| format!(", against {e:.0} in the comparison period"))
            );
            for h in harm {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.0}</td><td class=\"n\">{}</td></tr>",
                    escape(&h.crime_type),
                    h.days_each,
                    h.current_days,
                    h.earlier_days.map_or("–".into(), |d| format!("{d:.0}"))
                );
            }
            let _ = write!(
                s,
                "</table><p class=\"note\">Harm table: {}.</p>",
                escape(b.harm_source.as_deref().unwrap_or(""))
            );
        }
        s.push_str("</div>");
    }
    let _ = write!(
        s,
        "<footer><p>Sources: {}. Contains public sector information licensed under the Open Government Licence v3.0; \
contains National Statistics and Ordnance Survey data © Crown copyright and database right. Incidents {} to {}; \
dataset built {}; page generated {}.</p>\
<p><b>About the points.</b> police.uk does not publish where a crime happened: each record is moved to the nearest \
of a fixed set of anonymous map points (a street segment's centre, a public place), so several crimes share one point and a \
point may stand for a whole street. Counts at a point or in a small cell are counts at those map points; the location text \
(\"On or near …\") names the point, not an address. Ward totals are little affected; exact positions must not be read into the map.</p>\
<p>How each figure was computed:</p><ul>{}</ul></footer></section>",
        escape(&b.sources.join("; ")),
        month::format(b.first_month),
        month::format(b.period.to),
        escape(&b.built_at),
        escape(generated),
        methods(b)
    );
    s
}

/// A ward's page.
pub fn page(b: &Briefing, generated: &str) -> String {
    document(&format!("{} ward briefing", b.name), &section(b, generated))
}

/// The page a borough's combined PDF is printed from: each ward's
/// briefing starting on a new page.
pub fn combined(title: &str, briefings: &[Briefing], generated: &str) -> String {
    let body: String = briefings.iter().map(|b| section(b, generated)).collect();
    document(title, &body)
}

/// A borough's index: its wards with their totals, linking to their pages
/// (`{ward}.html`, and `{ward}.pdf` when printed).
pub fn borough_index(ctx: &Context, borough: &str, rows: &[(String, String, u64)], pdf: bool) -> String {
    let mut s = format!(
        "<nav class=\"back\"><a href=\"../index.html\">London</a></nav><h1>{} ward briefings</h1><p class=\"sub\">{}</p>\
<table><tr><th>ward</th><th>code</th><th class=\"n\">incidents, {}</th>{}</tr>",
        escape(borough),
        escape(&ctx.selection.rule()),
        ctx.period.label(),
        if pdf { "<th>PDF</th>" } else { "" }
    );
    for (code, name, n) in rows {
        let _ = write!(
            s,
            "<tr><td><a href=\"{c}.html\">{n_}</a></td><td>{c}</td><td class=\"n\">{n}</td>{}</tr>",
            if pdf {
                format!("<td><a href=\"{}.pdf\">PDF</a></td>", escape(code))
            } else {
                String::new()
            },
            c = escape(code),
            n_ = escape(name)
        );
    }
    s.push_str("</table>");
    document(&format!("{borough} ward briefings"), &s)
}

/// London's index: each borough (code, name, wards, incidents) linking to its index.
pub fn london_index(ctx: &Context, rows: &[(String, String, usize, u64)]) -> String {
    let mut s = format!(
        "<h1>Ward briefings</h1><p class=\"sub\">The latest {} months in the dataset, {}. {}</p>\
<table><tr><th>borough</th><th>code</th><th class=\"n\">wards</th><th class=\"n\">incidents</th></tr>",
        ctx.options.months,
        ctx.period.label(),
        escape(&ctx.selection.rule())
    );
    for (code, name, wards, n) in rows {
        let _ = write!(
            s,
            "<tr><td><a href=\"{c}/index.html\">{name}</a></td><td>{c}</td><td class=\"n\">{wards}</td><td class=\"n\">{n}</td></tr>",
            c = escape(code),
            name = escape(name)
        );
    }
    s.push_str("</table>");
    document("Ward briefings", &s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_style_has_a4_print_rules_and_nothing_external() {
        assert!(super::STYLE.contains("size:A4"));
        assert!(super::STYLE.contains("@media print"));
        assert!(!super::STYLE.contains("url(http"));
        assert!(!super::STYLE.contains("@import"));
    }
}
