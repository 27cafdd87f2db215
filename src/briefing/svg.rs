//! The briefing's drawings as inline SVG, drawn by the engine itself (no
//! tiles, no scripts, no fonts from elsewhere): the map in British National
//! Grid metres (x = easting, y = northing flipped; grid north is up) and the
//! monthly chart. Vector shapes print crisply at any size.

use std::fmt::Write;

use super::figures::Briefing;
use crate::api::html::escape;

/// The map's size in SVG user units (square).
const MAP_PX: f64 = 600.0;

/// BNG metres → map units.
struct Frame {
    view: [f64; 4],
    scale: f64,
}

impl Frame {
    fn x(&self, e: f64) -> f64 {
        (e - self.view[0]) * self.scale
    }
    fn y(&self, n: f64) -> f64 {
        (self.view[3] - n) * self.scale
    }
}

fn path_d(frame: &Frame, mp: &geo::MultiPolygon<f64>) -> String {
    let mut d = String::new();
    for poly in &mp.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for (k, c) in ring.coords().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1} {:.1}",
                    if k == 0 { "M" } else { "L" },
                    frame.x(c.x),
                    frame.y(c.y)
                );
            }
            d.push('Z');
        }
    }
    d
}

/// A scale bar's length: the longest round length within a quarter of the view.
fn scale_length_m(view_width_m: f64) -> f64 {
    const NICE: [f64; 10] = [
        50.0, 100.0, 200.0, 250.0, 500.0, 1000.0, 2000.0, 2500.0, 5000.0, 10000.0,
    ];
    NICE.iter()
        .copied()
        .rfind(|l| *l <= view_width_m / 4.0)
        .unwrap_or(NICE[0])
}

/// The ward's map: neighbours, Gi* cells (FDR bins), the ward's outline,
/// schools and stations near it (numbered as in the table; flagged ones
/// outlined heavily), a scale bar and a grid-north arrow.
pub fn map(b: &Briefing) -> String {
    let width_m = b.view[2] - b.view[0];
    let f = Frame {
        view: b.view,
        scale: MAP_PX / width_m,
    };
    let clip = format!("clip-{}", escape(&b.code));
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<svg class=\"map\" viewBox=\"0 0 {MAP_PX} {MAP_PX}\" role=\"img\" \
aria-label=\"Map of {name} ward (British National Grid, grid north up)\" data-view-bng=\"{:.0} {:.0} {:.0} {:.0}\">\
<defs><clipPath id=\"{clip}\"><rect x=\"0\" y=\"0\" width=\"{MAP_PX}\" height=\"{MAP_PX}\"/></clipPath></defs>\
<rect class=\"frame\" x=\"0\" y=\"0\" width=\"{MAP_PX}\" height=\"{MAP_PX}\"/><g clip-path=\"url(#{clip})\">",
        b.view[0],
        b.view[1],
        b.view[2],
        b.view[3],
        name = escape(&b.name),
    );
    for (name, p) in &b.neighbours {
        let _ = write!(
            s,
            "<path class=\"neighbour\" d=\"{}\"><title>{}</title></path>",
            path_d(&f, p),
            escape(name)
        );
    }
    let side = b.cell_m * f.scale;
    for c in &b.cells {
        let kind = if c.bin > 0 { "hot" } else { "cold" };
        let _ = write!(
            s,
            "<rect class=\"cell {kind} b{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{side:.1}\" height=\"{side:.1}\"/>",
            c.bin.unsigned_abs(),
            f.x(c.centre[0] - b.cell_m / 2.0),
            f.y(c.centre[1] + b.cell_m / 2.0),
        );
    }
    for a in &b.surge {
        let _ = write!(
            s,
            "<circle class=\"surge\" data-rank=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{:.1}\"><title>surge-team area {} of London's plan: {:.1} incidents expected next month</title></circle>",
            a.rank,
            f.x(a.easting_m),
            f.y(a.northing_m),
            a.radius_m * f.scale,
            a.rank,
            a.expected_incidents
        );
    }
    let _ = write!(
        s,
        "<path class=\"ward\" data-ward=\"{}\" d=\"{}\"><title>{}</title></path>",
        escape(&b.code),
        path_d(&f, &b.polygon),
        escape(&b.name)
    );
    for (k, p) in b.pois.iter().enumerate().take(super::html::MAX_POI_ROWS) {
        let (x, y) = (f.x(p.easting_m), f.y(p.northing_m));
        let flag = if p.flagged { " flagged" } else { "" };
        if p.kind == "station" {
            let _ = write!(
                s,
                "<rect class=\"poi station{flag}\" x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\"><title>{}</title></rect>",
                x - 5.0,
                y - 5.0,
                escape(&p.name)
            );
        } else {
            let _ = write!(
                s,
                "<circle class=\"poi school{flag}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5.5\"><title>{}</title></circle>",
                escape(&p.name)
            );
        }
        let _ = write!(
            s,
            "<text class=\"poi-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 7.0,
            y - 5.0,
            k + 1
        );
    }
    s.push_str("</g>");
    // Scale bar, bottom left.
    let len_m = scale_length_m(width_m);
    let len = len_m * f.scale;
    let label = if len_m >= 1000.0 {
        format!("{} km", len_m / 1000.0)
    } else {
        format!("{len_m} m")
    };
    let _ = write!(
        s,
        "<g class=\"scale-bar\"><rect x=\"16\" y=\"566\" width=\"{len:.1}\" height=\"6\" class=\"bar\"/>\
<rect x=\"16\" y=\"566\" width=\"{:.1}\" height=\"6\" class=\"bar-half\"/>\
<text x=\"16\" y=\"560\">0</text><text x=\"{:.1}\" y=\"560\" text-anchor=\"end\">{label}</text></g>",
        len / 2.0,
        16.0 + len
    );
    // Grid-north arrow, top right.
    s.push_str(
        "<g class=\"north-arrow\"><path d=\"M570 18 L580 46 L570 40 L560 46 Z\"/>\
<text x=\"570\" y=\"62\" text-anchor=\"middle\">N</text></g></svg>",
    );
    s
}

/// The monthly chart: counts as bars, the seasonal expectation as a dashed
/// line in a grey band (central 95 % of a Poisson count with that mean).
pub fn chart(b: &Briefing) -> String {
    let (w, h) = (720.0, 190.0);
    let (left, right, top, bottom) = (40.0, 10.0, 10.0, 30.0);
    let n = b.monthly.len().max(1) as f64;
    let max = b.monthly.iter().map(|m| m.count.max(m.high) as f64).fold(1.0, f64::max);
    // A round top for the axis.
    let step = [
        1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 250.0, 500.0, 1000.0,
    ]
    .into_iter()
    .find(|s| max / s <= 5.0)
    .unwrap_or(max / 4.0);
    let ymax = (max / step).ceil() * step;
    let bw = (w - left - right) / n;
    let x = |i: f64| left + i * bw;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / ymax);
    let mut s = String::with_capacity(16 * 1024);
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
aria-label=\"Incidents per month, {}, with the seasonal expectation\">",
        escape(&b.chart.label())
    );
    let mut v = 0.0;
    while v <= ymax + 1e-9 {
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            w - right,
            y(v),
            y(v),
            left - 4.0,
            y(v) + 4.0
        );
        v += step;
    }
    // The band: low edges left to right, high edges back.
    if !b.monthly.is_empty() {
        let mut d = String::new();
        for (i, m) in b.monthly.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1} {:.1}L{:.1} {:.1}",
                if i == 0 { "M" } else { "L" },
                x(i as f64),
                y(m.high as f64),
                x(i as f64 + 1.0),
                y(m.high as f64)
            );
        }
        for (i, m) in b.monthly.iter().enumerate().rev() {
            let _ = write!(
                d,
                "L{:.1} {:.1}L{:.1} {:.1}",
                x(i as f64 + 1.0),
                y(m.low as f64),
                x(i as f64),
                y(m.low as f64)
            );
        }
        let _ = write!(s, "<path class=\"band\" d=\"{d}Z\"/>");
    }
    for (i, m) in b.monthly.iter().enumerate() {
        let outside = if m.count > m.high {
            " above"
        } else if m.count < m.low {
            " below"
        } else {
            ""
        };
        let _ = write!(
            s,
            "<rect class=\"month{outside}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}: {} (expected {:.1}, range {} to {})</title></rect>",
            x(i as f64) + bw * 0.15,
            y(m.count as f64),
            bw * 0.7,
            y(0.0) - y(m.count as f64),
            crate::month::format(m.month),
            m.count,
            m.expected,
            m.low,
            m.high
        );
        if m.month % 6 == 0 || i == 0 {
            let _ = write!(
                s,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x(i as f64),
                h - 10.0,
                crate::month::format(m.month)
            );
        }
    }
    let mut d = String::new();
    for (i, m) in b.monthly.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.1} {:.1}",
            if i == 0 { "M" } else { "L" },
            x(i as f64 + 0.5),
            y(m.expected)
        );
    }
    let _ = write!(s, "<path class=\"expected\" d=\"{d}\"/></svg>");
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn scale_bars_are_round_and_fit_a_quarter() {
        assert_eq!(super::scale_length_m(3000.0), 500.0);
        assert_eq!(super::scale_length_m(1500.0), 250.0);
        assert_eq!(super::scale_length_m(9000.0), 2000.0);
        assert_eq!(super::scale_length_m(100.0), 50.0);
    }
}
