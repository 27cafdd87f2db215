//! OGC API – Features Part 3 filtering: a CQL2 expression (OGC 21-065r2,
//! CQL2 1.0; parsed by the `cql2` crate from cql2-text or cql2-json) turned
//! into a predicate over a [`Table`]'s rows.
//!
//! What is understood (the conformance classes [`CONFORMANCE`] declares):
//! - `AND`, `OR`, `NOT`; `=`, `<>`, `<`, `<=`, `>`, `>=` between a property
//!   and a literal (either side); `IS NULL` (Basic CQL2);
//! - `LIKE` (`%`, `_`, `\` escapes), `BETWEEN`, `IN` (advanced comparison);
//! - `S_INTERSECTS` and `S_DISJOINT` of the feature's geometry (`geometry`)
//!   with any geometry or `BBOX(...)`, given in `filter-crs` (CRS84 by
//!   default, EPSG:4326, or British National Grid);
//! - on the month (`month`, `YYYY-MM`): comparisons with text, `DATE` and
//!   `TIMESTAMP`, and `T_INTERSECTS`, `T_DURING`, `T_BEFORE`, `T_AFTER`,
//!   `T_EQUALS` with a date, timestamp or interval. Months are whole, as
//!   for `datetime`: an instant stands for its month.
//!
//! String comparisons are decided once per distinct value (the columns are
//! dictionary-encoded), so a filter costs a few lookups per row. Anything
//! else is a 400 problem document naming `filter` and saying what is wrong
//! and, for a syntax error, where.

use cql2::Expr;

use super::crs::ApiCrs;
use super::error::ApiError;
use super::table::{ColumnData, Table};

/// The conformance classes of Part 3 and CQL2 this module implements.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
];

/// The name filters use for a feature's geometry.
pub const GEOMETRY: &str = "geometry";

/// A predicate over a table's rows.
pub type Pred<'a> = Box<dyn Fn(usize) -> bool + Send + Sync + 'a>;

/// `filter-lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterLang {
    #[default]
    Text,
    Json,
}

impl FilterLang {
    pub fn parse(v: &str) -> Result<FilterLang, ApiError> {
        match v.trim() {
            "cql2-text" => Ok(FilterLang::Text),
            "cql2-json" => Ok(FilterLang::Json),
            other => Err(ApiError::param(
                "filter-lang",
                format!("{other:?} is not a filter language this server reads; use cql2-text or cql2-json"),
            )),
        }
    }
}

/// A parsed filter and the CRS of its geometries.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub expr: Expr,
    pub crs: ApiCrs,
}

fn bad(why: impl Into<String>) -> ApiError {
    ApiError::param("filter", why.into())
}

/// The deepest nesting of brackets a filter may have: the parsers recurse
/// once per level, and a request must not be able to exhaust a worker's stack.
pub const MAX_DEPTH: usize = 64;

/// The deepest nesting of `(`, `[` and `{` in `text` (outside '...' strings).
fn depth(text: &str) -> usize {
    let (mut d, mut max, mut quoted) = (0usize, 0usize, false);
    for c in text.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => {
                d += 1;
                max = max.max(d);
            }
            ')' | ']' | '}' if !quoted => d = d.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses `filter` in `lang`; a syntax error says where.
pub fn parse(text: &str, lang: FilterLang) -> Result<Expr, ApiError> {
    if depth(text) > MAX_DEPTH {
        return Err(bad(format!("nested more than {MAX_DEPTH} levels deep")));
    }
    match lang {
        FilterLang::Text => cql2::parse_text(text).map_err(|e| match e {
            cql2::Error::Pest(p) => bad(format!("cql2-text does not parse:\n{p}")),
            other => bad(format!("cql2-text does not parse: {other}")),
        }),
        FilterLang::Json => cql2::parse_json(text).map_err(|e| {
            bad(format!(
                "cql2-json does not parse at line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        }),
    }
}

/// The work of testing every one of `rows` rows against `e`: per row, one
/// step per operator and literal and one per vertex of each geometry (a
/// point-in-polygon test walks the polygon's edges), for the same budget
/// as the analyses (`--max-work`).
pub fn work(e: &Expr, rows: usize) -> f64 {
    fn steps(e: &Expr) -> f64 {
        match e {
            Expr::Operation { args, .. } | Expr::Array(args) => 1.0 + args.iter().map(|a| steps(a)).sum::<f64>(),
            Expr::Geometry(g) => {
                use geo::CoordsIter;
                use wkt::TryFromWkt;
                g.to_wkt()
                    .ok()
                    .and_then(|t| geo::Geometry::<f64>::try_from_wkt_str(&t).ok())
                    .map_or(1.0, |g| g.coords_count() as f64)
            }
            _ => 1.0,
        }
    }
    steps(e) * rows as f64
}

/// Every property an expression names.
pub fn properties(e: &Expr) -> Vec<&str> {
    let mut out = Vec::new();
    fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
        match e {
            Expr::Property { property } => out.push(property.as_str()),
            Expr::Operation { args, .. } | Expr::Array(args) => args.iter().for_each(|a| walk(a, out)),
            _ => {}
        }
    }
    walk(e, &mut out);
    out
}

/// A literal's value.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Num(f64),
    Str(String),
    Bool(bool),
    /// A date or timestamp, as its month (`year * 12 + month - 1`).
    Month(u32),
}

fn literal(e: &Expr) -> Option<Lit> {
    match e {
        Expr::Float(x) => Some(Lit::Num(*x)),
        Expr::Literal(s) => Some(Lit::Str(s.clone())),
        Expr::Bool(b) => Some(Lit::Bool(*b)),
        Expr::Date { date } | Expr::Timestamp { timestamp: date } => instant_month(date).map(Lit::Month),
        _ => None,
    }
}

/// The month of a date or timestamp literal (`2024-03-15`, `2024-03-15T10:00:00Z`).
fn instant_month(e: &Expr) -> Option<u32> {
    let Expr::Literal(s) = e else { return None };
    crate::month::parse(s.get(..7)?)
}

fn describe(e: &Expr) -> String {
    e.to_text().unwrap_or_else(|_| format!("{e:?}"))
}

/// `(from, to)` months of a temporal literal: a date or timestamp is its
/// month; an interval its first and last months (`..` open).
fn months_of(e: &Expr) -> Result<(Option<u32>, Option<u32>), ApiError> {
    let one = |e: &Expr| -> Result<Option<u32>, ApiError> {
        match e {
            Expr::Literal(s) if s == ".." => Ok(None),
            Expr::Date { date } | Expr::Timestamp { timestamp: date } => instant_month(date)
                .map(Some)
                .ok_or_else(|| bad(format!("{} is not a date", describe(e)))),
            Expr::Literal(_) => instant_month(e)
                .map(Some)
                .ok_or_else(|| bad(format!("{} is not a date", describe(e)))),
            _ => Err(bad(format!("{} is not a date, a timestamp or '..'", describe(e)))),
        }
    };
    match e {
        Expr::Interval { interval } if interval.len() == 2 => Ok((one(&interval[0])?, one(&interval[1])?)),
        Expr::Date { .. } | Expr::Timestamp { .. } => {
            let m = one(e)?;
            Ok((m, m))
        }
        _ => Err(bad(format!(
            "{} is not a date, a timestamp or an interval",
            describe(e)
        ))),
    }
}

/// `%` any run, `_` any one character, `\` escapes the next (CQL2 LIKE).
pub fn like(text: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Ch(char),
    }
    let mut pat = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        pat.push(match c {
            '%' => P::Any,
            '_' => P::One,
            '\\' => P::Ch(it.next().unwrap_or('\\')),
            c => P::Ch(c),
        });
    }
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer glob match with backtracking to the last `%`.
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match pat.get(pi) {
            Some(P::Any) => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(P::One) => {
                ti += 1;
                pi += 1;
            }
            Some(P::Ch(c)) if *c == t[ti] => {
                ti += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[pi..].iter().all(|p| *p == P::Any)
}

/// Comparison operators, with their mirror (for `literal op property`).
fn mirror(op: &str) -> &str {
    match op {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        other => other,
    }
}

fn holds(op: &str, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        "=" => o == Equal,
        "<>" => o != Equal,
        "<" => o == Less,
        "<=" => o != Greater,
        ">" => o == Greater,
        ">=" => o != Less,
        _ => false,
    }
}

impl Table {
    /// The names a filter may use: every property, `geometry`, and `month`
    /// where the features have one.
    pub fn queryable(&self, name: &str) -> bool {
        name == GEOMETRY || self.column(name).is_some() || (name == "month" && self.months.is_some())
    }

    /// The predicate of a filter.
    pub fn compile<'a>(&'a self, f: &'a Filter) -> Result<Pred<'a>, ApiError> {
        self.expr(&f.expr, f.crs)
    }

    fn expr<'a>(&'a self, e: &'a Expr, crs: ApiCrs) -> Result<Pred<'a>, ApiError> {
        let Expr::Operation { op, args } = e else {
            return match e {
                Expr::Bool(b) => {
                    let b = *b;
                    Ok(Box::new(move |_| b))
                }
                _ => Err(bad(format!("{} is not a condition", describe(e)))),
            };
        };
        let arity = |n: usize| -> Result<(), ApiError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(bad(format!("{op} takes {n} arguments, not {}", args.len())))
            }
        };
        match op.as_str() {
            "and" | "or" => {
                let parts = args.iter().map(|a| self.expr(a, crs)).collect::<Result<Vec<_>, _>>()?;
                Ok(if op == "and" {
                    Box::new(move |i| parts.iter().all(|p| p(i)))
                } else {
                    Box::new(move |i| parts.iter().any(|p| p(i)))
                })
            }
            "not" => {
                arity(1)?;
                let p = self.expr(&args[0], crs)?;
                Ok(Box::new(move |i| !p(i)))
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                arity(2)?;
                match (&*args[0], &*args[1]) {
                    (Expr::Property { property }, lit) => self.compare(property, op, lit),
                    (lit, Expr::Property { property }) => self.compare(property, mirror(op), lit),
                    _ => Err(bad(format!(
                        "{}: a comparison needs a property on one side and a value on the other",
                        describe(e)
                    ))),
                }
            }
            "like" => {
                arity(2)?;
                let (Expr::Property { property }, Expr::Literal(pattern)) = (&*args[0], &*args[1]) else {
                    return Err(bad(format!("{}: LIKE needs a property and a text pattern", describe(e))));
                };
                let pattern = pattern.clone();
                self.text_test(property, move |s| like(s, &pattern))
            }
            "in" => {
                arity(2)?;
                let (Expr::Property { property }, Expr::Array(items)) = (&*args[0], &*args[1]) else {
                    return Err(bad(format!("{}: IN needs a property and a list", describe(e))));
                };
                let parts = items
                    .iter()
                    .map(|v| self.compare(property, "=", v))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Box::new(move |i| parts.iter().any(|p| p(i))))
            }
            "between" => {
                arity(3)?;
                let Expr::Property { property } = &*args[0] else {
                    return Err(bad(format!("{}: BETWEEN needs a property first", describe(e))));
                };
                let lo = self.compare(property, ">=", &args[1])?;
                let hi = self.compare(property, "<=", &args[2])?;
                Ok(Box::new(move |i| lo(i) && hi(i)))
            }
            "isNull" => {
                arity(1)?;
                let Expr::Property { property } = &*args[0] else {
                    return Err(bad(format!("{}: IS NULL needs a property", describe(e))));
                };
                self.is_null(property)
            }
            "s_intersects" | "s_disjoint" => {
                arity(2)?;
                let other = match (&*args[0], &*args[1]) {
                    (Expr::Property { property }, g) | (g, Expr::Property { property }) if property == GEOMETRY => g,
                    _ => {
                        return Err(bad(format!(
                            "{}: {op} needs the property `geometry` and a geometry",
                            describe(e)
                        )))
                    }
                };
                let region = region(other, crs)?;
                let b = {
                    use geo::BoundingRect;
                    let r = region
                        .bounding_rect()
                        .ok_or_else(|| bad(format!("{}: an empty geometry", describe(other))))?;
                    [r.min().x, r.min().y, r.max().x, r.max().y]
                };
                let disjoint = op == "s_disjoint";
                Ok(Box::new(move |i| self.meets_region(i, b, &region) != disjoint))
            }
            "t_intersects" | "t_during" | "t_before" | "t_after" | "t_equals" => {
                arity(2)?;
                let (property, when) = match (&*args[0], &*args[1]) {
                    (Expr::Property { property }, w) => (property, w),
                    _ => return Err(bad(format!("{}: {op} needs the property `month` first", describe(e)))),
                };
                let months = self.month_values(property)?;
                let (from, to) = months_of(when)?;
                let (lo, hi) = (from.unwrap_or(0), to.unwrap_or(u32::MAX));
                let test: Box<dyn Fn(u32) -> bool + Send + Sync> = match op.as_str() {
                    "t_intersects" | "t_during" => Box::new(move |m| lo <= m && m <= hi),
                    "t_before" => Box::new(move |m| from.is_some_and(|f| m < f)),
                    "t_after" => Box::new(move |m| to.is_some_and(|t| m > t)),
                    _ => Box::new(move |m| from == Some(m) && to == Some(m)),
                };
                Ok(Box::new(move |i| months(i).is_some_and(&test)))
            }
            other => Err(bad(format!(
                "the operator {other} is not supported here (see /conformance for the CQL2 classes this server implements)"
            ))),
        }
    }

    fn column_or_err(&self, name: &str) -> Result<&ColumnData, ApiError> {
        self.column(name).map(|c| &self.columns[c].data).ok_or_else(|| {
            bad(format!(
                "no queryable `{name}` in this collection (see its /queryables)"
            ))
        })
    }

    /// The month of each row: the table's month numbers, or a `YYYY-MM` column.
    fn month_values(&self, name: &str) -> Result<Box<dyn Fn(usize) -> Option<u32> + Send + Sync + '_>, ApiError> {
        if name == "month" {
            if let Some(m) = &self.months {
                return Ok(Box::new(move |i| Some(m[i])));
            }
        }
        match self.column_or_err(name)? {
            ColumnData::Str { dict, codes } => {
                let parsed: Vec<Option<u32>> = dict.iter().map(|s| crate::month::parse(s)).collect();
                Ok(Box::new(move |i| parsed.get(codes[i] as usize).copied().flatten()))
            }
            _ => Err(bad(format!("`{name}` is not a month"))),
        }
    }

    /// Rows whose text in `name` passes `test` (decided once per distinct value).
    fn text_test(&self, name: &str, test: impl Fn(&str) -> bool) -> Result<Pred<'_>, ApiError> {
        match self.column_or_err(name)? {
            ColumnData::Str { dict, codes } => {
                let ok: Vec<bool> = dict.iter().map(|s| test(s)).collect();
                Ok(Box::new(move |i| ok.get(codes[i] as usize).copied().unwrap_or(false)))
            }
            _ => Err(bad(format!("`{name}` is not text"))),
        }
    }

    fn compare<'a>(&'a self, name: &str, op: &str, value: &Expr) -> Result<Pred<'a>, ApiError> {
        let lit = literal(value).ok_or_else(|| bad(format!("{} is not a value", describe(value))))?;
        let op = op.to_string();
        if name == "month" && self.months.is_some() || matches!(lit, Lit::Month(_)) {
            // A month against a month: `month >= '2024-01'`, `month < DATE('2024-06-01')`.
            let m = match &lit {
                Lit::Month(m) => *m,
                Lit::Str(s) => crate::month::parse(s.get(..7).unwrap_or(s))
                    .ok_or_else(|| bad(format!("{s:?} is not a month (YYYY-MM)")))?,
                _ => return Err(bad(format!("`{name}` is a month; compare it with 'YYYY-MM' or a DATE"))),
            };
            let months = self.month_values(name)?;
            return Ok(Box::new(move |i| months(i).is_some_and(|x| holds(&op, x.cmp(&m)))));
        }
        let type_err = |ty: &str| bad(format!("`{name}` is {ty}; {} is not", describe(value)));
        match (self.column_or_err(name)?, lit) {
            (ColumnData::Str { .. }, Lit::Str(s)) => {
                // Crime types match their API slugs too, as in `crime_type=burglary`.
                let s = if name == "crime_type" {
                    crate::crime_types::canonical(&s).map(str::to_string).unwrap_or(s)
                } else {
                    s
                };
                self.text_test(name, move |v| holds(&op, v.cmp(s.as_str())))
            }
            (ColumnData::Num(v), Lit::Num(x)) => Ok(Box::new(move |i| {
                !v[i].is_nan() && holds(&op, v[i].partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal))
            })),
            (ColumnData::Num(v), Lit::Str(s)) => {
                let x: f64 = s.trim().parse().map_err(|_| type_err("a number"))?;
                Ok(Box::new(move |i| {
                    !v[i].is_nan() && holds(&op, v[i].partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal))
                }))
            }
            (ColumnData::Bool(v), Lit::Bool(b)) if op == "=" || op == "<>" => {
                Ok(Box::new(move |i| v[i].is_some_and(|x| holds(&op, x.cmp(&b)))))
            }
            (ColumnData::Str { .. }, _) => Err(type_err("text")),
            (ColumnData::Num(_), _) => Err(type_err("a number")),
            (ColumnData::Bool(_), _) => Err(type_err("true or false (= and <> only)")),
            (ColumnData::Json(_), _) => Err(bad(format!("`{name}` cannot be compared"))),
        }
    }

    fn is_null(&self, name: &str) -> Result<Pred<'_>, ApiError> {
        Ok(match self.column_or_err(name)? {
            ColumnData::Str { codes, .. } => Box::new(move |i| codes[i] == u32::MAX),
            ColumnData::Num(v) => Box::new(move |i| v[i].is_nan()),
            ColumnData::Bool(v) => Box::new(move |i| v[i].is_none()),
            ColumnData::Json(v) => Box::new(move |i| v[i].is_null()),
        })
    }
}

/// A geometry or `BBOX` literal as a WGS84 lon/lat geometry.
fn region(e: &Expr, crs: ApiCrs) -> Result<geo::Geometry<f64>, ApiError> {
    use geo::MapCoords;
    let g: geo::Geometry<f64> = match e {
        Expr::Geometry(g) => {
            let text = g
                .to_wkt()
                .map_err(|err| bad(format!("a geometry that does not read: {err}")))?;
            use wkt::TryFromWkt;
            geo::Geometry::try_from_wkt_str(&text).map_err(|err| bad(format!("{text}: {err}")))?
        }
        Expr::BBox { bbox } => {
            let n: Vec<f64> = bbox
                .iter()
                .map(|x| match **x {
                    Expr::Float(v) => Ok(v),
                    _ => Err(bad("BBOX takes numbers")),
                })
                .collect::<Result<_, _>>()?;
            let b = match n.len() {
                4 => [n[0], n[1], n[2], n[3]],
                6 => [n[0], n[1], n[3], n[4]],
                k => return Err(bad(format!("BBOX takes 4 or 6 numbers, not {k}"))),
            };
            if crs == ApiCrs::Bng {
                // A BNG box, its sides curved in lon/lat: as the bbox parameter does.
                return Ok(geo::Geometry::Polygon(super::crs::bng_box_in_wgs84(b).map_err(
                    |_| bad(format!("BBOX({b:?}) is outside the British National Grid's cover")),
                )?));
            }
            geo::Geometry::Rect(geo::Rect::new(
                geo::coord! {x: b[0], y: b[1]},
                geo::coord! {x: b[2], y: b[3]},
            ))
        }
        other => return Err(bad(format!("{} is not a geometry", describe(other)))),
    };
    match crs {
        ApiCrs::Crs84 => Ok(g),
        ApiCrs::Epsg4326 => Ok(g.map_coords(|c| geo::coord! {x: c.y, y: c.x})),
        ApiCrs::Bng => g.try_map_coords(|c| {
            crate::crs::bng_to_lonlat(c.x, c.y)
                .map(|(x, y)| geo::coord! {x: x, y: y})
                .ok_or_else(|| {
                    bad(format!(
                        "({}, {}) is outside the British National Grid's cover",
                        c.x, c.y
                    ))
                })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_follows_cql2() {
        assert!(like("Burglary", "Burg%"));
        assert!(like("Burglary", "%lar_"));
        assert!(like("Burglary", "%"));
        assert!(!like("Burglary", "burg%"), "case-sensitive");
        assert!(like("50%", "50\\%"));
        assert!(!like("500", "50\\%"));
        assert!(like("a_b", "a\\_b"));
        assert!(!like("axb", "a\\_b"));
        assert!(like("", "%"));
        assert!(!like("", "_"));
        assert!(like("Criminal damage and arson", "%damage%arson"));
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = parse(&deep, FilterLang::Text).unwrap_err();
        assert!(e.to_string().contains("nested"), "{e}");
        assert_eq!(depth("a = '((((' AND (b = 1)"), 1, "brackets in strings do not count");
        let poly = parse(
            "S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))",
            FilterLang::Text,
        )
        .unwrap();
        assert_eq!(work(&poly, 10), 10.0 * (1.0 + 1.0 + 4.0));
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = parse("crime_type = 'Burglary' AND AND month > '2024-01'", FilterLang::Text).unwrap_err();
        assert_eq!(e.parameter(), Some("filter"));
        let text = e.to_string();
        assert!(text.contains("1:") || text.contains("line 1"), "{text}");
        let e = parse("{\"op\": \"=\", \"args\": [", FilterLang::Json).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(FilterLang::parse("ecql").is_err());
    }
}
