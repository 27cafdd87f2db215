//! Each analysis's parameters, declared once.
//!
//! An analysis file declares a [`Spec`]: its id (the CLI command and the
//! HTTP collection), a title, a one-line description, and its [`Param`]s:
//! name, type, default, allowed range or choices, unit and a doc line. The
//! CLI's flags and `--help`, the server's query parsing and the OpenAPI
//! document are all derived from that table, so a default or a choice name
//! exists in exactly one place. Values arrive as text from either side and
//! are checked here, all of them, before any work starts ([`Values::new`]);
//! the analysis then reads typed values ([`Values::f64`], [`Values::choice`],
//! ...) that fall back to the declared default.
//!
//! Names: a parameter's `name` is its HTTP query name (`snake_case`); its
//! CLI flag is the same with `-` for `_` (`time_step` → `--time-step`)
//! unless the declaration says otherwise ([`Param::cli`]). Choices are
//! declared in `snake_case` too and accepted on both sides with `-` or `_`
//! (the CLI's `--weights inverse-distance` and the API's
//! `weights=inverse_distance` are one choice).

use std::collections::BTreeMap;

use super::harm::HarmTable;
use super::select::Selection;
use super::AnalysisError;

/// The type of a parameter's value (each value of a list parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// A finite decimal number.
    Number,
    /// A whole number, at least 0.
    Integer,
    /// Free text (crime types, ward codes, `crime_type:days` pairs).
    Text,
    /// A month, `YYYY-MM`.
    Month,
    /// A file on the CLI's machine (CLI only).
    Path,
    /// A switch without a value (`--json`): given means true.
    Flag,
}

impl ParamType {
    /// The JSON Schema type of the value.
    pub fn json_type(self) -> &'static str {
        match self {
            ParamType::Number => "number",
            ParamType::Integer => "integer",
            ParamType::Text | ParamType::Month | ParamType::Path => "string",
            ParamType::Flag => "boolean",
        }
    }
}

/// Where a parameter is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Both,
    /// Only as a CLI flag (files to read or write, terminal output).
    Cli,
    /// Only as an HTTP query parameter.
    Http,
}

/// One parameter of an analysis.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// The HTTP query name, `snake_case`.
    pub name: &'static str,
    /// The CLI flag (without `--`) when it is not `name` with `-` for `_`.
    pub cli_flag: Option<&'static str>,
    pub ty: ParamType,
    /// Repeatable (CLI) and comma-separated or repeated (HTTP).
    pub list: bool,
    /// The default value, as text; `None` when absent means "not set".
    pub default: Option<&'static str>,
    /// What the default is when it is a rule rather than a value
    /// ("chosen from the data").
    pub default_rule: Option<&'static str>,
    /// Allowed values, `snake_case`, when a choice.
    pub choices: &'static [&'static str],
    /// Inclusive bounds of a number; `min_exclusive` makes the lower bound strict.
    pub min: Option<f64>,
    pub min_exclusive: bool,
    pub max: Option<f64>,
    /// The unit of a number ("m", "months", "km²").
    pub unit: Option<&'static str>,
    pub doc: &'static str,
    pub surface: Surface,
}

impl Param {
    /// A parameter with no default, bounds or choices, on both surfaces.
    pub const fn new(name: &'static str, ty: ParamType, doc: &'static str) -> Param {
        Param {
            name,
            cli_flag: None,
            ty,
            list: false,
            default: None,
            default_rule: None,
            choices: &[],
            min: None,
            min_exclusive: false,
            max: None,
            unit: None,
            doc,
            surface: Surface::Both,
        }
    }

    /// A distance in metres, from 1 m (police.uk's points are snapped far
    /// coarser) to 100 km (London is about 50 km across): beyond these a
    /// grid or a neighbourhood means nothing, and the arithmetic on
    /// coordinates divided by it would overflow.
    pub const fn metres(name: &'static str, doc: &'static str) -> Param {
        Param::new(name, ParamType::Number, doc)
            .unit("m")
            .at_least(1.0)
            .at_most(100_000.0)
    }

    /// One of `choices` (text).
    pub const fn choice(
        name: &'static str,
        choices: &'static [&'static str],
        default: &'static str,
        doc: &'static str,
    ) -> Param {
        Param {
            choices,
            ..Param::new(name, ParamType::Text, doc).default(default)
        }
    }

    /// Allowed values (`snake_case`), without a default.
    pub const fn choices(self, choices: &'static [&'static str]) -> Param {
        Param { choices, ..self }
    }

    pub const fn default(self, value: &'static str) -> Param {
        Param {
            default: Some(value),
            ..self
        }
    }

    pub const fn default_rule(self, rule: &'static str) -> Param {
        Param {
            default_rule: Some(rule),
            ..self
        }
    }

    pub const fn list(self) -> Param {
        Param { list: true, ..self }
    }

    pub const fn unit(self, unit: &'static str) -> Param {
        Param {
            unit: Some(unit),
            ..self
        }
    }

    /// At least `min`.
    pub const fn at_least(self, min: f64) -> Param {
        Param {
            min: Some(min),
            min_exclusive: false,
            ..self
        }
    }

    /// Greater than `min`.
    pub const fn above(self, min: f64) -> Param {
        Param {
            min: Some(min),
            min_exclusive: true,
            ..self
        }
    }

    pub const fn at_most(self, max: f64) -> Param {
        Param { max: Some(max), ..self }
    }

    pub const fn cli(self, flag: &'static str) -> Param {
        Param {
            cli_flag: Some(flag),
            ..self
        }
    }

    pub const fn cli_only(self) -> Param {
        Param {
            surface: Surface::Cli,
            ..self
        }
    }

    pub const fn http_only(self) -> Param {
        Param {
            surface: Surface::Http,
            ..self
        }
    }

    /// Offered on the CLI.
    pub fn on_cli(&self) -> bool {
        self.surface != Surface::Http
    }

    /// Offered over HTTP.
    pub fn on_http(&self) -> bool {
        self.surface != Surface::Cli
    }

    /// The CLI flag without `--`.
    pub fn flag(&self) -> String {
        self.cli_flag
            .map(str::to_string)
            .unwrap_or_else(|| self.name.replace('_', "-"))
    }

    /// The doc line with the unit, range and default, for `--help` and the
    /// OpenAPI description.
    pub fn help(&self) -> String {
        let mut s = self.doc.to_string();
        if let Some(u) = self.unit {
            s.push_str(&format!(" ({u})"));
        }
        let range = match (self.min, self.max) {
            (Some(lo), Some(hi)) if self.min_exclusive => Some(format!("> {lo} and <= {hi}")),
            (Some(lo), Some(hi)) => Some(format!("{lo}..={hi}")),
            (Some(lo), None) if self.min_exclusive => Some(format!("> {lo}")),
            (Some(lo), None) => Some(format!(">= {lo}")),
            (None, Some(hi)) => Some(format!("<= {hi}")),
            (None, None) => None,
        };
        if let Some(r) = range {
            s.push_str(&format!("; {r}"));
        }
        if let Some(rule) = self.default_rule {
            s.push_str(&format!("; default: {rule}"));
        }
        s
    }

    /// Checks one value's text against the type, range and choices.
    fn check(&self, value: &str) -> Result<(), AnalysisError> {
        let v = value.trim();
        let err = |message: String| AnalysisError::Param {
            name: self.name.to_string(),
            message,
        };
        if !self.choices.is_empty() {
            return choice_index(self.choices, v)
                .map(|_| ())
                .ok_or_else(|| err(format!("{v:?} is not one of {}", self.choices.join(", "))));
        }
        match self.ty {
            ParamType::Number => {
                let x = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| err(format!("{v:?} is not a number")))?;
                self.check_range(x)
            }
            ParamType::Integer => {
                let x = v
                    .parse::<u64>()
                    .map_err(|_| err(format!("{v:?} is not a non-negative whole number")))?;
                self.check_range(x as f64)
            }
            ParamType::Month => crate::month::parse(v)
                .map(|_| ())
                .ok_or_else(|| err(format!("{v:?} is not a month (YYYY-MM)"))),
            ParamType::Flag => match v {
                "true" | "false" => Ok(()),
                _ => Err(err(format!("{v:?} is not true or false"))),
            },
            ParamType::Text | ParamType::Path => Ok(()),
        }
    }

    fn check_range(&self, x: f64) -> Result<(), AnalysisError> {
        let x = Short(x);
        let unit = self.unit.map(|u| format!(" {u}")).unwrap_or_default();
        let err = |message: String| AnalysisError::Param {
            name: self.name.to_string(),
            message,
        };
        if let Some(lo) = self.min {
            if self.min_exclusive && x.0 <= lo {
                return Err(err(format!("must be greater than {lo}{unit}, got {x}")));
            }
            if !self.min_exclusive && x.0 < lo {
                return Err(err(format!("must be at least {lo}{unit}, got {x}")));
            }
        }
        if let Some(hi) = self.max {
            if x.0 > hi {
                return Err(err(format!("must be at most {hi}{unit}, got {x}")));
            }
        }
        Ok(())
    }
}

/// A number as a reader wants it in a message: `1e-300`, not three
/// hundred zeros.
struct Short(f64);

impl std::fmt::Display for Short {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.0.abs();
        if a != 0.0 && !(1e-4..1e9).contains(&a) {
            write!(f, "{:e}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The index of `value` among `choices`, ignoring case and `-`/`_`.
fn choice_index(choices: &[&str], value: &str) -> Option<usize> {
    let v = value.trim().to_ascii_lowercase().replace('-', "_");
    choices.iter().position(|c| *c == v)
}

/// The type of an output property (a column of the result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    Number,
    Integer,
    Text,
    Boolean,
}

impl PropType {
    pub fn json_type(self) -> &'static str {
        match self {
            PropType::Number => "number",
            PropType::Integer => "integer",
            PropType::Text => "string",
            PropType::Boolean => "boolean",
        }
    }

    /// Whether `value` (a filter's text) can equal a value of this type.
    pub fn admits(self, value: &str) -> bool {
        let v = value.trim();
        match self {
            PropType::Number => v.parse::<f64>().is_ok_and(|x| !x.is_nan()),
            PropType::Integer => v.parse::<f64>().is_ok_and(|x| x.is_finite()),
            PropType::Text => true,
            PropType::Boolean => matches!(v, "true" | "false"),
        }
    }
}

/// One property of an analysis's result features. A name ending in `*`
/// stands for a family (`count_r*`: `count_r100`, `count_r200`, ...).
#[derive(Debug, Clone, Copy)]
pub struct Property {
    pub name: &'static str,
    pub ty: PropType,
    pub doc: &'static str,
}

impl Property {
    pub const fn new(name: &'static str, ty: PropType, doc: &'static str) -> Property {
        Property { name, ty, doc }
    }

    /// Whether a feature property called `name` is this one.
    pub fn matches(&self, name: &str) -> bool {
        match self.name.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix) && name.len() > prefix.len(),
            None => self.name == name,
        }
    }
}

/// An analysis as the CLI and the server offer it.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The CLI command and the HTTP collection id (`gistar`, `poi-risk`).
    pub id: &'static str,
    pub title: &'static str,
    /// One paragraph: `--help` and the collection's description.
    pub about: &'static str,
    /// Parameter groups, in order (the shared selection first).
    pub groups: &'static [&'static [Param]],
    /// Offered as a CLI command.
    pub cli: bool,
    /// Offered as an HTTP collection.
    pub http: bool,
    /// The properties of its result features (what the server's property
    /// filters may name, checked before any work), in groups as the
    /// parameters are (analyses on the same units share a group).
    pub properties: &'static [&'static [Property]],
}

impl Spec {
    /// Every parameter, in declaration order.
    pub fn params(&self) -> impl Iterator<Item = &'static Param> + '_ {
        self.groups.iter().flat_map(|g| g.iter())
    }

    /// The parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params().find(|p| p.name == name)
    }

    /// The output property called `name`, if the result has one.
    pub fn property(&self, name: &str) -> Option<&'static Property> {
        self.properties.iter().flat_map(|g| g.iter()).find(|p| p.matches(name))
    }

    /// The HTTP parameters' names.
    pub fn http_names(&self) -> Vec<&'static str> {
        self.params().filter(|p| p.on_http()).map(|p| p.name).collect()
    }
}

/// The incident selection every analysis takes.
pub const SELECTION: &[Param] = &[
    Param::new(
        "crime_type",
        ParamType::Text,
        "police.uk crime types (names or API slugs), comma-separated or repeated; anti-social behaviour is counted only when named",
    )
    .list()
    .default_rule("every crime type except anti-social behaviour"),
    Param::choice(
        "kind",
        super::select::KINDS,
        "crime",
        "record kind: crime, or stop_and_search (never mixed into crime), or other",
    ),
    Param::new("from", ParamType::Month, "first month, YYYY-MM").default_rule("the first month in the data"),
    Param::new("to", ParamType::Month, "last month, YYYY-MM").default_rule("the last month in the data"),
];

/// The significance level of a layer's `significant` flag (and FDR level).
pub const ALPHA: Param = Param::new("alpha", ParamType::Number, "significance level (and FDR level)")
    .default("0.05")
    .above(0.0)
    .at_most(0.5);

/// Harm weights: a CSV file on the CLI, `crime_type:days` pairs over HTTP.
pub const HARM: &[Param] = &[
    Param::new(
        "harm_table",
        ParamType::Path,
        "weigh incidents by harm: a CSV with columns crime_type,harm_days",
    )
    .cli_only(),
    Param::new(
        "harm",
        ParamType::Text,
        "weigh incidents by harm: crime_type:days pairs, comma-separated (e.g. Burglary:365,Robbery:730)",
    )
    .list()
    .http_only(),
];

/// The values given for an analysis's parameters, checked against its
/// [`Spec`], with typed accessors that fall back to the declared defaults.
/// Errors name the parameter (its HTTP name; the CLI shows its flag).
#[derive(Debug, Clone)]
pub struct Values {
    spec: Spec,
    given: BTreeMap<String, Vec<String>>,
    /// Where the values come from: a parameter not offered there is absent
    /// (its default does not apply), so an HTTP-only default such as
    /// `auto_max_cells` never changes a CLI run.
    surface: Surface,
}

impl Values {
    /// Checks `given` (name → values as text) against `spec`: every name is
    /// a parameter of the spec, a parameter that is not a list is given
    /// once, and every value has the declared type, range or choice. No
    /// work should start before this has passed.
    pub fn new(spec: Spec, given: BTreeMap<String, Vec<String>>) -> Result<Values, AnalysisError> {
        for (name, values) in &given {
            let p = spec.param(name).ok_or_else(|| AnalysisError::Param {
                name: name.clone(),
                message: format!("not a parameter of {}", spec.id),
            })?;
            if values.len() > 1 && !p.list {
                return Err(AnalysisError::Param {
                    name: name.clone(),
                    message: "given more than once".into(),
                });
            }
            for v in values {
                if p.list {
                    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        p.check(item)?;
                    }
                } else {
                    p.check(v)?;
                }
            }
        }
        let values = Values {
            spec,
            given,
            surface: Surface::Both,
        };
        values.selection()?;
        Ok(values)
    }

    /// The same values as given on one surface: on the CLI, HTTP-only
    /// parameters are absent. (On HTTP, a run that reads a CLI-only
    /// parameter's default, such as poi-risk's `top`, would then fail:
    /// the server keeps `Surface::Both`.)
    pub fn on(self, surface: Surface) -> Values {
        Values { surface, ..self }
    }

    /// No values: every parameter at its default.
    pub fn defaults(spec: Spec) -> Values {
        Values {
            spec,
            given: BTreeMap::new(),
            surface: Surface::Both,
        }
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    fn declared(&self, name: &str) -> &'static Param {
        self.spec
            .param(name)
            .unwrap_or_else(|| panic!("{}: parameter {name} is read but not declared", self.spec.id))
    }

    /// Whether the parameter was given.
    pub fn given(&self, name: &str) -> bool {
        self.given.contains_key(name)
    }

    /// The path given for a file parameter (CLI outputs such as `summary_out`).
    pub fn given_path(&self, name: &str) -> Option<std::path::PathBuf> {
        self.given
            .get(name)
            .and_then(|v| v.first())
            .map(std::path::PathBuf::from)
    }

    /// The text of a single-valued parameter: given, or its default.
    pub fn str(&self, name: &str) -> Option<&str> {
        let p = self.declared(name);
        self.given
            .get(name)
            .and_then(|v| v.first())
            .map(|s| s.trim())
            .or(p.default.filter(|_| match self.surface {
                Surface::Both => true,
                Surface::Cli => p.on_cli(),
                Surface::Http => p.on_http(),
            }))
    }

    /// A number: given, or the default (`None` with neither).
    pub fn f64(&self, name: &str) -> Result<Option<f64>, AnalysisError> {
        self.str(name)
            .map(|s| {
                s.parse::<f64>().map_err(|_| AnalysisError::Param {
                    name: name.into(),
                    message: format!("{s:?} is not a number"),
                })
            })
            .transpose()
    }

    /// A number that has a declared default.
    pub fn number(&self, name: &str) -> Result<f64, AnalysisError> {
        Ok(self.f64(name)?.unwrap_or_else(|| panic!("{name} has no default")))
    }

    /// A whole number: given, or the default.
    pub fn u64(&self, name: &str) -> Result<Option<u64>, AnalysisError> {
        self.str(name)
            .map(|s| {
                s.parse::<u64>().map_err(|_| AnalysisError::Param {
                    name: name.into(),
                    message: format!("{s:?} is not a non-negative whole number"),
                })
            })
            .transpose()
    }

    /// A whole number that has a declared default.
    pub fn count(&self, name: &str) -> Result<usize, AnalysisError> {
        Ok(self.u64(name)?.unwrap_or_else(|| panic!("{name} has no default")) as usize)
    }

    /// A choice, parsed into its enum: given, or the default.
    pub fn choice<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, AnalysisError> {
        self.str(name)
            .map(|s| {
                s.parse::<T>().map_err(|_| AnalysisError::Param {
                    name: name.into(),
                    message: format!("{s:?} is not one of {}", self.declared(name).choices.join(", ")),
                })
            })
            .transpose()
    }

    /// A list parameter's items: repeated and/or comma-separated.
    pub fn list(&self, name: &str) -> Vec<String> {
        let p = self.declared(name);
        let given: Vec<String> = self
            .given
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if given.is_empty() {
            p.default
                .map(|d| d.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default()
        } else {
            given
        }
    }

    /// A list of numbers.
    pub fn numbers(&self, name: &str) -> Result<Vec<f64>, AnalysisError> {
        self.list(name)
            .iter()
            .map(|s| {
                s.parse::<f64>().map_err(|_| AnalysisError::Param {
                    name: name.into(),
                    message: format!("{s:?} is not a number"),
                })
            })
            .collect()
    }

    /// Whether a switch ([`ParamType::Flag`]) is on.
    pub fn flag(&self, name: &str) -> bool {
        self.str(name) == Some("true")
    }

    /// The incident selection: `crime_type`, `from`, `to` (checked). A
    /// crime type `all` alone means every type (the default rule of
    /// [`SELECTION`]), for analyses whose own default is a basket.
    pub fn selection(&self) -> Result<Selection, AnalysisError> {
        let mut crime_types = self.list("crime_type");
        if crime_types.len() == 1 && crime_types[0].eq_ignore_ascii_case("all") {
            crime_types.clear();
        }
        let s = Selection {
            crime_types,
            from: self.str("from").map(str::to_string),
            to: self.str("to").map(str::to_string),
            kind: match self.spec.param("kind") {
                Some(_) => self
                    .str("kind")
                    .map(|k| k.to_ascii_lowercase().replace('-', "_"))
                    .filter(|k| k != "crime"),
                None => None,
            },
        };
        s.months()?;
        s.types()?;
        Ok(s)
    }

    /// The harm table: from `harm_table` (a CSV file, CLI) or `harm`
    /// (`crime_type:days` pairs, HTTP); `None` with neither.
    pub fn harm(&self) -> Result<Option<HarmTable>, AnalysisError> {
        if let Some(path) = self.given.get("harm_table").and_then(|v| v.first()) {
            return HarmTable::from_csv(std::path::Path::new(path)).map(Some);
        }
        let pairs = match self.spec.param("harm") {
            Some(_) => self.list("harm"),
            None => Vec::new(),
        };
        if pairs.is_empty() {
            return Ok(None);
        }
        HarmTable::from_pairs(&pairs).map(Some)
    }

    /// A `YYYY-MM..YYYY-MM` range of months (inclusive), if given.
    pub fn month_range(&self, name: &str) -> Result<Option<(u32, u32)>, AnalysisError> {
        let Some(s) = self.str(name) else {
            return Ok(None);
        };
        let err = |message: String| super::param(name, message);
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| err(format!("{s:?} is not FROM..TO (YYYY-MM..YYYY-MM)")))?;
        let m = |t: &str| crate::month::parse(t).ok_or_else(|| err(format!("{t:?} is not a month (YYYY-MM)")));
        let (a, b) = (m(a)?, m(b)?);
        if a > b {
            return Err(err(format!("{s}: the first month is after the last")));
        }
        Ok(Some((a, b)))
    }

    /// Sets `from`/`to` from an OGC `datetime` range (an error if they
    /// were given too): the server's spelling of the selection's months.
    pub fn set_months(&mut self, from: Option<String>, to: Option<String>) -> Result<(), AnalysisError> {
        if self.given("from") || self.given("to") {
            return Err(AnalysisError::Param {
                name: "datetime".into(),
                message: "give either datetime or from/to, not both".into(),
            });
        }
        if let Some(a) = from {
            self.given.insert("from".into(), vec![a]);
        }
        if let Some(b) = to {
            self.given.insert("to".into(), vec![b]);
        }
        Ok(())
    }

    /// A canonical text of the given values (sorted names, list values in
    /// order): the cache key of the layer they produce.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.given {
            out.push_str(k);
            out.push('=');
            out.push_str(&v.join(","));
            out.push('&');
        }
        out
    }
}

/// Declares the `snake_case` names of an enum's variants once: `NAMES`
/// (for a [`Param::choice`]), `name()`, and `FromStr` accepting the names
/// (any case, `-` for `_`) and the given aliases.
#[macro_export]
macro_rules! named_choices {
    ($ty:ident { $($variant:ident => $name:literal $(| $alias:literal)*),+ $(,)? }) => {
        impl $ty {
            /// The choice names, `snake_case`, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// This variant's choice name.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<$ty, String> {
                let key = s.trim().to_ascii_lowercase().replace('-', "_");
                match key.as_str() {
                    $($name $(| $alias)* => Ok($ty::$variant),)+
                    _ => Err(format!("{s:?} is not one of {}", $ty::NAMES.join(", "))),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &[Param] = &[
        Param::metres("cell", "cell size").default("250"),
        Param::new("teams", ParamType::Integer, "teams")
            .default("6")
            .at_least(1.0)
            .at_most(1000.0),
        Param::choice("weights", &["binary", "inverse_distance"], "binary", "weights"),
        Param::new("radius", ParamType::Number, "radii")
            .list()
            .default("100,200,400"),
        Param::new("auto_max_cells", ParamType::Integer, "a server's bound")
            .default("40000")
            .http_only(),
    ];
    const SPEC: Spec = Spec {
        id: "test",
        title: "t",
        about: "t",
        groups: &[SELECTION, OWN, HARM],
        cli: true,
        http: true,
        properties: &[],
    };

    fn values(pairs: &[(&str, &str)]) -> Result<Values, AnalysisError> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        Values::new(SPEC, m)
    }

    fn name_of(e: AnalysisError) -> String {
        match e {
            AnalysisError::Param { name, .. } => name,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn every_value_is_checked_first_and_errors_name_the_parameter() {
        for (pairs, culprit) in [
            (vec![("cell", "-5")], "cell"),
            (vec![("cell", "abc")], "cell"),
            (vec![("cell", "inf")], "cell"),
            (vec![("teams", "0")], "teams"),
            (vec![("teams", "-1")], "teams"),
            (vec![("teams", "1001")], "teams"),
            (vec![("weights", "magic")], "weights"),
            (vec![("radius", "100,abc")], "radius"),
            (vec![("from", "2024-13")], "from"),
            (vec![("crime_type", "unicorns")], "crime_type"),
            (vec![("teams", "2"), ("teams", "3")], "teams"),
            (vec![("colour", "red")], "colour"),
        ] {
            assert_eq!(name_of(values(&pairs).unwrap_err()), culprit, "{pairs:?}");
        }
    }

    #[test]
    fn distances_outside_one_metre_to_100_km_are_refused_in_short_words() {
        // schemathesis sent these; 5e-324 m once overflowed the band's bucket arithmetic.
        for (v, said) in [
            ("5e-324", "at least 1 m, got 5e-324"),
            ("1.09e16", "at most 100000 m, got 1.09e16"),
        ] {
            let e = values(&[("cell", v)]).unwrap_err().to_string();
            assert!(e.starts_with("parameter `cell`") && e.ends_with(said), "{e}");
        }
        assert!(values(&[("cell", "1")]).is_ok() && values(&[("cell", "100000")]).is_ok());
    }

    #[test]
    fn a_cli_run_does_not_take_http_only_defaults() {
        // auto_max_cells once coarsened Gi* cells on the CLI too.
        assert_eq!(values(&[]).unwrap().u64("auto_max_cells").unwrap(), Some(40000));
        let cli = values(&[]).unwrap().on(Surface::Cli);
        assert_eq!(cli.u64("auto_max_cells").unwrap(), None);
        assert_eq!(cli.number("cell").unwrap(), 250.0, "defaults on both surfaces stay");
    }

    #[test]
    fn defaults_come_from_the_declaration() {
        let v = values(&[]).unwrap();
        assert_eq!(v.number("cell").unwrap(), 250.0);
        assert_eq!(v.count("teams").unwrap(), 6);
        assert_eq!(v.numbers("radius").unwrap(), vec![100.0, 200.0, 400.0]);
        assert!(!v.given("cell"));
        let v = values(&[
            ("cell", "100"),
            ("radius", "50"),
            ("radius", "75,80"),
            ("weights", "Inverse-Distance"),
        ])
        .unwrap();
        assert_eq!(v.number("cell").unwrap(), 100.0);
        assert_eq!(v.numbers("radius").unwrap(), vec![50.0, 75.0, 80.0]);
        assert_eq!(v.str("weights"), Some("Inverse-Distance"));
        assert_eq!(v.canonical(), "cell=100&radius=50,75,80&weights=Inverse-Distance&");
    }

    #[test]
    fn help_states_unit_range_and_rule() {
        assert_eq!(SPEC.param("cell").unwrap().help(), "cell size (m); 1..=100000");
        assert_eq!(SPEC.param("teams").unwrap().help(), "teams; 1..=1000");
        assert!(SPEC.param("time_step").is_none());
        assert_eq!(SPEC.param("harm_table").unwrap().flag(), "harm-table");
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Shape {
        Square,
        Hex,
    }
    named_choices!(Shape { Square => "square", Hex => "hex" | "hexagon" });

    #[test]
    fn named_choices_parse_names_and_aliases() {
        assert_eq!("HEX".parse::<Shape>(), Ok(Shape::Hex));
        assert_eq!("hexagon".parse::<Shape>(), Ok(Shape::Hex));
        assert_eq!(Shape::NAMES, &["square", "hex"]);
        assert_eq!(Shape::Square.name(), "square");
        assert!("circle".parse::<Shape>().unwrap_err().contains("square, hex"));
    }
}
