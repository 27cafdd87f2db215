//! One ward's figures, computed from the shared [`Context`]: everything a
//! briefing page shows, as numbers (the page only formats them, and tests
//! check them against an independent count of `incidents.parquet`).

use std::collections::BTreeMap;

use geo::{BoundingRect, Contains};
use statrs::distribution::{DiscreteCDF, Poisson};

use super::change;
use super::context::{Context, Range, ALPHA};
use super::BriefingError;
use crate::analysis::fdr;
use crate::dataset::Dataset;

/// Fewer incidents than this in the period: a short page, no hotspot statistics.
pub const MIN_INCIDENTS: u64 = 20;
/// The ward's own month-of-year pattern needs this many incidents over
/// the chart's months (20 per month of the year); else the borough's.
pub const MIN_SEASONAL: u64 = 240;
/// Schools and stations this close to the ward (metres) are listed.
pub const POI_NEAR_M: f64 = 400.0;
/// Top locations listed.
pub const TOP_LOCATIONS: usize = 10;

/// A count in the period against the earlier ones, with the tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    /// A crime type, or "All crime" for the total.
    pub crime_type: String,
    pub current: u64,
    pub previous: Option<u64>,
    pub year_earlier: Option<u64>,
    /// Conditional-test p-values and their BH q-values across crime types
    /// (the total's q is its p: it is not one of the family).
    pub p_previous: Option<f64>,
    pub q_previous: Option<f64>,
    pub p_year: Option<f64>,
    pub q_year: Option<f64>,
    /// Exact 95 % interval of current / year earlier.
    pub rr_year: Option<(f64, f64)>,
}

impl Count {
    /// In an officer's words: "Robbery 41, up from 23 a year earlier
    /// (significant)"; against the previous period when the dataset has no
    /// year-earlier months.
    pub fn sentence(&self, months: u32) -> String {
        let (base, q, when) = match (self.year_earlier, self.previous) {
            (Some(y), _) => (y, self.q_year, "a year earlier".to_string()),
            (None, Some(p)) => (p, self.q_previous, format!("in the previous {months} months")),
            (None, None) => {
                return format!(
                    "{} {} (the dataset has no earlier months to compare with)",
                    self.crime_type, self.current
                )
            }
        };
        let verdict = match q {
            Some(q) if q <= ALPHA => "significant",
            _ => "not significant",
        };
        if self.current == base {
            format!("{} {}, the same as {when}", self.crime_type, self.current)
        } else {
            let dir = if self.current > base { "up" } else { "down" };
            format!(
                "{} {}, {dir} from {base} {when} ({verdict})",
                self.crime_type, self.current
            )
        }
    }
}

/// One month of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthFigure {
    pub month: u32,
    pub count: u64,
    /// Expected from the level and the month-of-year pattern, with the
    /// central 95 % of a Poisson count with that mean.
    pub expected: f64,
    pub low: u64,
    pub high: u64,
}

/// A Gi* cell in the map's view (BNG metres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub centre: [f64; 2],
    /// ArcGIS bin under FDR: 1..3 hot, -1..-3 cold.
    pub bin: i8,
    pub in_ward: bool,
}

/// A school or station near the ward.
#[derive(Debug, Clone, PartialEq)]
pub struct PoiFigure {
    pub kind: String,
    pub name: String,
    pub easting_m: f64,
    pub northing_m: f64,
    /// Metres from the ward's boundary (0 inside).
    pub distance_m: f64,
    /// Position in London's POI-risk ranking (1 = highest), if ranked.
    pub rank: Option<usize>,
    pub ranked_of: usize,
    pub count_200: u32,
    pub rr_eb: f64,
    pub rr_eb_low: f64,
    pub rr_eb_high: f64,
    /// The empirical-Bayes interval lies above London's rate.
    pub flagged: bool,
}

/// A location's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub location: String,
    pub current: u64,
    /// In the comparison period (a year earlier, else the previous period).
    pub earlier: Option<u64>,
}

/// An outcome's share in the ward and the borough.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub outcome: String,
    pub ward: u64,
    pub ward_share: f64,
    pub borough_share: Option<f64>,
}

/// Harm per crime type.
#[derive(Debug, Clone, PartialEq)]
pub struct Harm {
    pub crime_type: String,
    pub days_each: f64,
    pub current_days: f64,
    pub earlier_days: Option<f64>,
}

/// Everything on a ward's page.
#[derive(Debug, Clone)]
pub struct Briefing {
    pub code: String,
    pub name: String,
    pub borough_code: String,
    pub borough_name: String,
    pub area_km2: f64,
    pub borough_area_km2: Option<f64>,
    pub london_area_km2: f64,
    pub months: u32,
    pub period: Range,
    pub previous: Option<Range>,
    pub year_earlier: Option<Range>,
    pub chart: Range,
    /// All crime, then each crime type seen, most incidents first.
    pub total: Count,
    pub by_type: Vec<Count>,
    /// Incidents per km² in the period.
    pub rate_ward: f64,
    pub rate_borough: Option<f64>,
    pub rate_london: f64,
    pub monthly: Vec<MonthFigure>,
    /// Whose month-of-year pattern the band uses, in words.
    pub seasonal_source: String,
    /// Too few incidents for hotspot statistics (a short page).
    pub few: bool,
    /// The map: the view box (BNG metres: min e, min n, max e, max n), the
    /// ward's polygon, its neighbours, Gi* cells in view.
    pub view: [f64; 4],
    pub polygon: geo::MultiPolygon<f64>,
    pub neighbours: Vec<(String, geo::MultiPolygon<f64>)>,
    pub cells: Vec<Cell>,
    pub cell_m: f64,
    pub hot_in_ward: usize,
    pub cold_in_ward: usize,
    pub hotspot_note: Option<String>,
    pub places: Vec<Place>,
    pub pois: Vec<PoiFigure>,
    pub poi_note: Option<String>,
    /// Emerging hot spot category → cells of the ward.
    pub emerging: Vec<(String, usize)>,
    pub emerging_note: Option<String>,
    /// Surge-team areas (circles in BNG metres) that touch the ward.
    pub surge: Vec<SurgeMark>,
    /// Why no surge area is drawn, when none touches or none was planned.
    pub surge_note: Option<String>,
    /// The borough's violence against its counterfactual over the period
    /// (the pledge, by borough), in words; or why there is none.
    pub pledge_line: String,
    pub outcomes: Vec<Outcome>,
    pub harm: Option<Vec<Harm>>,
    pub harm_source: Option<String>,
    pub first_month: u32,
    pub built_at: String,
    pub sources: Vec<String>,
    pub counted_rule: String,
}

fn count_in(rows: &[u32], month: &[u32], r: Option<Range>) -> Option<u64> {
    r.map(|r| rows.iter().filter(|&&i| r.contains(month[i as usize])).count() as u64)
}

/// Shortest distance (metres) from a point to a polygon's boundary, 0 inside.
fn distance_to(poly: &geo::MultiPolygon<f64>, p: [f64; 2]) -> f64 {
    let pt = geo::Point::new(p[0], p[1]);
    if poly.contains(&pt) {
        return 0.0;
    }
    let mut best = f64::INFINITY;
    for polygon in &poly.0 {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for seg in ring.lines() {
                let (a, b) = (seg.start, seg.end);
                let (dx, dy) = (b.x - a.x, b.y - a.y);
                let len2 = dx * dx + dy * dy;
                let t = if len2 > 0.0 {
                    (((p[0] - a.x) * dx + (p[1] - a.y) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (x, y) = (a.x + t * dx - p[0], a.y + t * dy - p[1]);
                best = best.min((x * x + y * y).sqrt());
            }
        }
    }
    best
}

/// The smallest `k` with P(X ≤ k) ≥ `p` for X ~ Poisson(`mean`) (0 for a
/// mean of 0): searched upward from eight standard deviations below the mean.
pub fn poisson_quantile(mean: f64, p: f64) -> u64 {
    let Ok(d) = Poisson::new(mean) else {
        return 0;
    };
    let mut k = (mean - 8.0 * mean.sqrt()).floor().max(0.0) as u64;
    while d.cdf(k) < p {
        k += 1;
    }
    k
}

/// A surge-team area on the ward's map.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeMark {
    /// Its rank in London's plan (1 = where a team does most good).
    pub rank: usize,
    pub easting_m: f64,
    pub northing_m: f64,
    pub radius_m: f64,
    pub expected_incidents: f64,
}

/// The plan's areas whose circle touches the ward (centre within a radius
/// of the ward's outline, or inside it).
fn surge_marks(ctx: &Context, polygon: &geo::MultiPolygon<f64>) -> (Vec<SurgeMark>, Option<String>) {
    match &ctx.surge {
        Err(e) => (Vec::new(), Some(format!("no surge plan: {e}"))),
        Ok(plan) => {
            let marks: Vec<SurgeMark> = plan
                .areas
                .iter()
                .filter(|a| distance_to(polygon, [a.easting_m, a.northing_m]) <= a.radius_m)
                .map(|a| SurgeMark {
                    rank: a.rank,
                    easting_m: a.easting_m,
                    northing_m: a.northing_m,
                    radius_m: a.radius_m,
                    expected_incidents: a.expected_incidents,
                })
                .collect();
            let note = marks.is_empty().then(|| {
                format!(
                    "none of London's {} surge-team areas for {} touches the ward",
                    plan.areas.len(),
                    plan.predicted_month
                )
            });
            (marks, note)
        }
    }
}

/// The borough's row of the pledge, in words.
fn pledge_line(ctx: &Context, borough_code: &str) -> String {
    let p = match &ctx.pledge {
        Ok(p) => p,
        Err(e) => return format!("No pledge figures: {e}."),
    };
    let Some(row) = p.areas.iter().find(|a| a.code == borough_code) else {
        return "No pledge figures: the ward's borough is not in the dataset's boroughs.".into();
    };
    match &row.figures {
        Some(f) if !row.small => format!(
            "Violence in {}, {}: {:.0} recorded against {:.0} expected from the {} baseline (seasonal trend), {:+.0}% (95% {:+.0}% to {:+.0}%): {}.",
            row.name,
            p.evaluation,
            f.observed,
            f.expected,
            p.baseline,
            f.pct_change,
            f.pct_lower,
            f.pct_upper,
            row.area_verdict
        ),
        _ => format!("No pledge verdict for {}: {}.", row.name, row.area_verdict),
    }
}

/// The ward with `code`'s figures.
pub fn ward_briefing(ds: &Dataset, ctx: &Context, code: &str) -> Result<Briefing, BriefingError> {
    let w = ctx.ward(code)?;
    let c = &ds.columns;
    let month = &c.month;
    let rows = &ctx.by_ward[w];
    let b = ctx.ward_borough[w];
    let borough_rows: &[u32] = ctx.by_borough.get(b as usize).map_or(&[], |v| v.as_slice());
    let in_period: Vec<u32> = rows
        .iter()
        .copied()
        .filter(|&r| ctx.period.contains(month[r as usize]))
        .collect();

    // Counts by crime type, and the total.
    let ntypes = c.crime_types.len();
    let tally = |r: Option<Range>| -> Option<Vec<u64>> {
        r.map(|r| {
            let mut v = vec![0u64; ntypes];
            for &i in rows {
                if r.contains(month[i as usize]) {
                    if let Some(x) = v.get_mut(c.crime_type[i as usize] as usize) {
                        *x += 1;
                    }
                }
            }
            v
        })
    };
    let cur = tally(Some(ctx.period)).unwrap_or_default();
    let prev = tally(ctx.previous);
    let year = tally(ctx.year_earlier);
    let make = |name: String, x: u64, p: Option<u64>, y: Option<u64>| Count {
        crime_type: name,
        current: x,
        previous: p,
        year_earlier: y,
        p_previous: p.map(|p| change::conditional_p(x, p)),
        q_previous: None,
        p_year: y.map(|y| change::conditional_p(x, y)),
        q_year: None,
        rr_year: y.map(|y| change::rate_ratio_interval(x, y, ALPHA)),
    };
    let mut by_type: Vec<Count> = (0..ntypes)
        .filter(|&t| cur[t] > 0 || prev.as_ref().is_some_and(|v| v[t] > 0) || year.as_ref().is_some_and(|v| v[t] > 0))
        .map(|t| {
            make(
                c.crime_types[t].clone(),
                cur[t],
                prev.as_ref().map(|v| v[t]),
                year.as_ref().map(|v| v[t]),
            )
        })
        .collect();
    by_type.sort_by(|a, b| b.current.cmp(&a.current).then(a.crime_type.cmp(&b.crime_type)));
    // BH across the crime types, for each comparison.
    let p_prev: Vec<f64> = by_type.iter().filter_map(|t| t.p_previous).collect();
    if p_prev.len() == by_type.len() && !p_prev.is_empty() {
        for (t, q) in by_type.iter_mut().zip(fdr::bh_adjust(&p_prev)) {
            t.q_previous = Some(q);
        }
    }
    let p_year: Vec<f64> = by_type.iter().filter_map(|t| t.p_year).collect();
    if p_year.len() == by_type.len() && !p_year.is_empty() {
        for (t, q) in by_type.iter_mut().zip(fdr::bh_adjust(&p_year)) {
            t.q_year = Some(q);
        }
    }
    let mut total = make(
        "All crime".into(),
        in_period.len() as u64,
        count_in(rows, month, ctx.previous),
        count_in(rows, month, ctx.year_earlier),
    );
    if !ctx.options.crime_types.is_empty() {
        total.crime_type = "All selected crime".into();
    } else {
        // A dataset of one crime type (the Met burglary folder) is not "all crime".
        let types: Vec<&String> = c
            .crime_types
            .iter()
            .filter(|t| t.as_str() != "Anti-social behaviour" && crate::crime_types::canonical(t).is_some())
            .collect();
        if let [only] = types.as_slice() {
            total.crime_type = format!("{only} (the only crime type in this dataset)");
        }
    }
    total.q_previous = total.p_previous;
    total.q_year = total.p_year;

    // Rates per km².
    let area_km2 = ctx.wards.area_km2[w];
    let borough_area_km2 = ctx.boroughs.area_km2.get(b as usize).copied();
    let borough_period = count_in(borough_rows, month, Some(ctx.period)).unwrap_or(0);
    let rate_ward = in_period.len() as f64 / area_km2;
    let rate_borough = borough_area_km2.map(|a| borough_period as f64 / a);
    let rate_london = ctx.london_period as f64 / ctx.london_area_km2;

    // The monthly series and its seasonal band.
    let chart_months: Vec<u32> = (ctx.chart.from..=ctx.chart.to).collect();
    let mut series = vec![0u64; chart_months.len()];
    for &r in rows {
        let m = month[r as usize];
        if ctx.chart.contains(m) {
            series[(m - ctx.chart.from) as usize] += 1;
        }
    }
    let ward_chart_total: u64 = series.iter().sum();
    let (pattern_rows, seasonal_source) = if ward_chart_total >= MIN_SEASONAL {
        (
            rows.as_slice(),
            format!("the ward's own month-of-year pattern ({ward_chart_total} incidents in these months)"),
        )
    } else if !borough_rows.is_empty() {
        (
            borough_rows,
            format!(
                "the borough's month-of-year pattern (the ward has {ward_chart_total} incidents in these months, fewer than {MIN_SEASONAL})"
            ),
        )
    } else {
        (
            rows.as_slice(),
            "the ward's own month-of-year pattern (no borough is known)".to_string(),
        )
    };
    // Month-of-year index: mean count in that calendar month over the mean
    // month, over the chart's covered months.
    let mut by_moy = [0.0f64; 12];
    let mut moy_months = [0.0f64; 12];
    for &m in &chart_months {
        if ctx.covered.contains(&m) {
            moy_months[(m % 12) as usize] += 1.0;
        }
    }
    for &r in pattern_rows {
        let m = month[r as usize];
        if ctx.chart.contains(m) {
            by_moy[(m % 12) as usize] += 1.0;
        }
    }
    let pattern_total: f64 = by_moy.iter().sum();
    let covered_n: f64 = moy_months.iter().sum();
    let index: Vec<f64> = (0..12)
        .map(|k| {
            if moy_months[k] > 0.0 && pattern_total > 0.0 {
                (by_moy[k] / moy_months[k]) / (pattern_total / covered_n)
            } else {
                1.0
            }
        })
        .collect();
    let level = if covered_n > 0.0 {
        ward_chart_total as f64 / covered_n
    } else {
        0.0
    };
    let monthly = chart_months
        .iter()
        .zip(&series)
        .map(|(&m, &n)| {
            let expected = level * index[(m % 12) as usize];
            let (low, high) = (poisson_quantile(expected, 0.025), poisson_quantile(expected, 0.975));
            MonthFigure {
                month: m,
                count: n,
                expected,
                low,
                high,
            }
        })
        .collect();

    // The map's view: the ward's box plus 400 m, squared up.
    let polygon = ctx.wards.polygons_bng[w].clone();
    let rect = polygon
        .bounding_rect()
        .ok_or_else(|| BriefingError::Data(format!("ward {code} has an empty polygon")))?;
    let (cx, cy) = ((rect.min().x + rect.max().x) / 2.0, (rect.min().y + rect.max().y) / 2.0);
    let half = (rect.width().max(rect.height()) / 2.0 + POI_NEAR_M).max(750.0);
    let view = [cx - half, cy - half, cx + half, cy + half];
    let in_view = |r: &geo::Rect<f64>| {
        r.max().x >= view[0] && r.min().x <= view[2] && r.max().y >= view[1] && r.min().y <= view[3]
    };
    let neighbours = ctx
        .wards
        .polygons_bng
        .iter()
        .enumerate()
        .filter(|(i, p)| *i != w && p.bounding_rect().is_some_and(|r| in_view(&r)))
        .map(|(i, p)| (ctx.wards.names[i].clone(), p.clone()))
        .collect();
    let few = total.current < MIN_INCIDENTS;
    let (cells, cell_m, hotspot_note) = match &ctx.hotspots {
        Ok(h) => {
            let crate::analysis::units::Units::Grid(g) = &h.units else {
                unreachable!("the briefing's Gi* is on a square grid")
            };
            let margin = g.cell_m;
            let cells = g
                .cells
                .iter()
                .enumerate()
                .filter(|(i, cell)| {
                    h.bin_fdr[*i] != 0
                        && cell.centre[0] >= view[0] - margin
                        && cell.centre[0] <= view[2] + margin
                        && cell.centre[1] >= view[1] - margin
                        && cell.centre[1] <= view[3] + margin
                })
                .map(|(i, cell)| Cell {
                    centre: cell.centre,
                    bin: h.bin_fdr[i],
                    in_ward: polygon.contains(&geo::Point::new(cell.centre[0], cell.centre[1])),
                })
                .collect();
            (cells, g.cell_m, None)
        }
        Err(e) => (Vec::new(), ctx.options.cell_m, Some(e.clone())),
    };
    let cells: Vec<Cell> = if few { Vec::new() } else { cells };
    let hot_in_ward = cells.iter().filter(|c| c.in_ward && c.bin > 0).count();
    let cold_in_ward = cells.iter().filter(|c| c.in_ward && c.bin < 0).count();

    // Places: the top locations in the period, with the comparison's counts.
    let earlier = ctx.year_earlier.or(ctx.previous);
    let mut by_place: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for &r in rows {
        let m = month[r as usize];
        let Some(&loc) = ctx.text.location.get(r as usize) else {
            continue;
        };
        if loc == u32::MAX {
            continue;
        }
        if ctx.period.contains(m) {
            by_place.entry(loc).or_default().0 += 1;
        } else if earlier.is_some_and(|e| e.contains(m)) {
            by_place.entry(loc).or_default().1 += 1;
        }
    }
    let mut places: Vec<Place> = by_place
        .into_iter()
        .filter(|(_, (n, _))| *n > 0)
        .map(|(loc, (n, e))| Place {
            location: ctx.text.locations[loc as usize].clone(),
            current: n,
            earlier: earlier.map(|_| e),
        })
        .collect();
    places.sort_by(|a, b| b.current.cmp(&a.current).then(a.location.cmp(&b.location)));
    places.truncate(TOP_LOCATIONS);

    // Schools and stations within 400 m, in London's POI-risk order.
    let (pois, poi_note) = match &ctx.poi {
        Ok(risk) => {
            let k200 = risk.request.radii_m.iter().position(|r| *r == 200.0);
            let rank_of: BTreeMap<usize, usize> = risk
                .ranking
                .iter()
                .take(risk.ranked)
                .enumerate()
                .map(|(pos, &i)| (i, pos + 1))
                .collect();
            let k = risk
                .request
                .radii_m
                .iter()
                .position(|r| *r == risk.request.rank_radius_m)
                .unwrap_or(0);
            let mut pois: Vec<PoiFigure> = risk
                .pois
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    p.easting_m >= rect.min().x - POI_NEAR_M
                        && p.easting_m <= rect.max().x + POI_NEAR_M
                        && p.northing_m >= rect.min().y - POI_NEAR_M
                        && p.northing_m <= rect.max().y + POI_NEAR_M
                })
                .filter_map(|(i, p)| {
                    let d = distance_to(&polygon, [p.easting_m, p.northing_m]);
                    (d <= POI_NEAR_M).then(|| {
                        let r = risk.risk[i][k];
                        PoiFigure {
                            kind: p.kind.clone(),
                            name: p.name.clone(),
                            easting_m: p.easting_m,
                            northing_m: p.northing_m,
                            distance_m: d,
                            rank: rank_of.get(&i).copied(),
                            ranked_of: risk.ranked,
                            count_200: k200.map_or(0, |k2| risk.risk[i][k2].count),
                            rr_eb: r.rr_eb,
                            rr_eb_low: r.rr_eb_low,
                            rr_eb_high: r.rr_eb_high,
                            flagged: rank_of.contains_key(&i) && r.rr_eb_low > 1.0,
                        }
                    })
                })
                .collect();
            pois.sort_by_key(|p| p.rank.unwrap_or(usize::MAX));
            let note = pois
                .is_empty()
                .then(|| "no school or station lies in the ward or within 400 m of it".to_string());
            (pois, note)
        }
        Err(e) => (Vec::new(), Some(e.clone())),
    };

    let (surge, surge_note) = surge_marks(ctx, &polygon);

    // Emerging hot spot categories of the ward's cells (centre in the ward).
    let (emerging, emerging_note) = match &ctx.emerging {
        Ok(e) if !few => {
            let mut n: BTreeMap<String, usize> = BTreeMap::new();
            let in_box = |c: &[f64; 2]| {
                c[0] >= rect.min().x && c[0] <= rect.max().x && c[1] >= rect.min().y && c[1] <= rect.max().y
            };
            for (i, cell) in e.grid.cells.iter().enumerate() {
                if in_box(&cell.centre) && polygon.contains(&geo::Point::new(cell.centre[0], cell.centre[1])) {
                    *n.entry(e.category[i].as_str().replace('_', " ")).or_default() += 1;
                }
            }
            let mut v: Vec<(String, usize)> = n.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let note = v
                .is_empty()
                .then(|| format!("no {} m cell has its centre in the ward", ctx.options.cell_m));
            (v, note)
        }
        Ok(_) => (Vec::new(), Some("too few incidents for hotspot statistics".to_string())),
        Err(e) => (Vec::new(), Some(e.clone())),
    };

    // Outcomes against the borough.
    let outcome_counts = |rs: &[u32]| -> (BTreeMap<String, u64>, u64) {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        let mut n = 0;
        for &r in rs {
            if ctx.period.contains(month[r as usize]) {
                let o = ctx.text.outcome_of(r).unwrap_or("No outcome recorded");
                *m.entry(o.to_string()).or_default() += 1;
                n += 1;
            }
        }
        (m, n)
    };
    let (ward_out, ward_n) = outcome_counts(rows);
    let (bor_out, bor_n) = outcome_counts(borough_rows);
    let mut outcomes: Vec<Outcome> = ward_out
        .iter()
        .map(|(o, &n)| Outcome {
            outcome: o.clone(),
            ward: n,
            ward_share: n as f64 / ward_n as f64,
            borough_share: (bor_n > 0).then(|| *bor_out.get(o).unwrap_or(&0) as f64 / bor_n as f64),
        })
        .collect();
    outcomes.sort_by(|a, b| b.ward.cmp(&a.ward).then(a.outcome.cmp(&b.outcome)));

    // Harm.
    let harm = ctx.options.harm.as_ref().map(|h| {
        by_type
            .iter()
            .map(|t| {
                let days = h.weight(&t.crime_type);
                Harm {
                    crime_type: t.crime_type.clone(),
                    days_each: days,
                    current_days: days * t.current as f64,
                    earlier_days: t.year_earlier.or(t.previous).map(|e| days * e as f64),
                }
            })
            .collect()
    });

    Ok(Briefing {
        code: code.to_string(),
        name: ctx.wards.names[w].clone(),
        borough_code: ctx.boroughs.codes.get(b as usize).cloned().unwrap_or_default(),
        borough_name: ctx.boroughs.names.get(b as usize).cloned().unwrap_or_default(),
        area_km2,
        borough_area_km2,
        london_area_km2: ctx.london_area_km2,
        months: ctx.options.months,
        period: ctx.period,
        previous: ctx.previous,
        year_earlier: ctx.year_earlier,
        chart: ctx.chart,
        total,
        by_type,
        rate_ward,
        rate_borough,
        rate_london,
        monthly,
        seasonal_source,
        few,
        view,
        polygon,
        neighbours,
        cells,
        cell_m,
        hot_in_ward,
        cold_in_ward,
        hotspot_note,
        places,
        pois,
        poi_note,
        emerging,
        emerging_note,
        surge,
        surge_note,
        pledge_line: pledge_line(ctx, ctx.boroughs.codes.get(b as usize).map_or("", |c| c.as_str())),
        outcomes,
        harm,
        harm_source: ctx.options.harm.as_ref().map(|h| h.source.clone()),
        first_month: ctx.first_month,
        built_at: ctx.built_at.clone(),
        sources: ctx.sources.clone(),
        counted_rule: ctx.selection.rule(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(current: u64, year: Option<u64>, q: Option<f64>) -> Count {
        Count {
            crime_type: "Robbery".into(),
            current,
            previous: Some(30),
            year_earlier: year,
            p_previous: Some(0.5),
            q_previous: Some(0.5),
            p_year: q,
            q_year: q,
            rr_year: None,
        }
    }

    #[test]
    fn sentences_read_as_an_officer_would_say_them() {
        assert_eq!(
            count(41, Some(23), Some(0.03)).sentence(12),
            "Robbery 41, up from 23 a year earlier (significant)"
        );
        assert_eq!(
            count(20, Some(23), Some(0.6)).sentence(12),
            "Robbery 20, down from 23 a year earlier (not significant)"
        );
        assert_eq!(
            count(23, Some(23), Some(1.0)).sentence(12),
            "Robbery 23, the same as a year earlier"
        );
        assert_eq!(
            count(41, None, None).sentence(6),
            "Robbery 41, up from 30 in the previous 6 months (not significant)"
        );
    }

    #[test]
    fn poisson_quantiles_by_hand() {
        // Poisson(2): P(0) = 0.1353, P(≤1) = 0.4060, P(≤4) = 0.9473, P(≤5) = 0.9834 (by hand; scipy agrees).
        assert_eq!(poisson_quantile(2.0, 0.025), 0);
        assert_eq!(poisson_quantile(2.0, 0.975), 5);
        assert_eq!(poisson_quantile(2.0, 0.5), 2);
        assert_eq!(poisson_quantile(0.0, 0.975), 0);
        // Poisson(100): the central 95 % is 81..=120 (scipy 1.17.1 `poisson.ppf([.025, .975], 100)`).
        assert_eq!(
            (poisson_quantile(100.0, 0.025), poisson_quantile(100.0, 0.975)),
            (81, 120)
        );
    }

    #[test]
    fn distance_to_a_square() {
        let sq = geo::MultiPolygon(vec![geo::Polygon::new(
            geo::LineString::from(vec![(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0), (0.0, 0.0)]),
            vec![],
        )]);
        assert_eq!(distance_to(&sq, [50.0, 50.0]), 0.0);
        assert!((distance_to(&sq, [130.0, 50.0]) - 30.0).abs() < 1e-9);
        assert!((distance_to(&sq, [103.0, 104.0]) - 5.0).abs() < 1e-9);
    }
}
