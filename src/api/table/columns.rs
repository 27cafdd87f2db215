//! Property columns, typed: numbers, strings (dictionary-encoded),
//! booleans and JSON values; their comparison for `sortby` and their
//! matchers for property filters.

use std::cmp::Ordering;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use serde_json::Value;

use super::json::{write_num, write_str};
use super::Ids;
use crate::analysis::layer::Values;
use crate::api::error::ApiError;

/// One property column.
#[derive(Debug)]
pub enum ColumnData {
    /// Dictionary-encoded strings; `u32::MAX` is null.
    Str { dict: Arc<[Box<str>]>, codes: Vec<u32> },
    /// Numbers; NaN is null.
    Num(Vec<f64>),
    /// Booleans; `None` is null.
    Bool(Vec<Option<bool>>),
    /// Anything else, as JSON values.
    Json(Vec<Value>),
}

/// A named property column.
#[derive(Debug)]
pub struct Column {
    pub name: String,
    /// `"name":`, escaped once.
    pub(super) key_json: String,
    pub data: ColumnData,
}

impl Column {
    /// Roughly the heap memory the column holds.
    pub fn heap_bytes(&self) -> usize {
        self.name.len()
            + self.key_json.len()
            + match &self.data {
                ColumnData::Str { dict, codes } => dict.iter().map(|s| s.len() + 16).sum::<usize>() + codes.len() * 4,
                ColumnData::Num(v) => v.len() * 8,
                ColumnData::Bool(v) => v.len() * 2,
                ColumnData::Json(v) => v.iter().map(|x| x.to_string().len() + 32).sum(),
            }
    }

    pub(super) fn new(name: &str, data: ColumnData) -> Column {
        Column {
            name: name.to_string(),
            key_json: format!("{}:", Value::from(name)),
            data,
        }
    }

    /// A string column, dictionary-encoded.
    pub fn strings<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
        let mut dict: Vec<Box<str>> = Vec::new();
        let mut index: FxHashMap<&'a str, u32> = FxHashMap::default();
        let codes = values
            .map(|v| match v {
                None => u32::MAX,
                Some(s) => *index.entry(s).or_insert_with(|| {
                    dict.push(s.into());
                    (dict.len() - 1) as u32
                }),
            })
            .collect();
        Column::new(
            name,
            ColumnData::Str {
                dict: dict.into(),
                codes,
            },
        )
    }

    /// A column of a layer's property; `Values::Id` shares the string ids.
    pub fn from_values(name: &str, values: Values, ids: &Ids) -> Column {
        let data = match values {
            Values::Id => match ids {
                Ids::Str(v) => ColumnData::Str {
                    dict: v.clone(),
                    codes: (0..v.len() as u32).collect(),
                },
                Ids::Int(v) => ColumnData::Num(v.iter().map(|&x| x as f64).collect()),
            },
            Values::Str(v) => return Column::strings(name, v.iter().map(|s| Some(s.as_str()))),
            Values::Num(mut v) => {
                // Non-finite numbers are null (NaN), as in the layer's JSON.
                for x in v.iter_mut().filter(|x| !x.is_finite()) {
                    *x = f64::NAN;
                }
                ColumnData::Num(v)
            }
            Values::Int(v) => ColumnData::Num(v.into_iter().map(|x| x as f64).collect()),
            Values::Bool(v) => ColumnData::Bool(v.into_iter().map(Some).collect()),
        };
        Column::new(name, data)
    }

    pub(super) fn write_value(&self, i: usize, out: &mut Vec<u8>) {
        match &self.data {
            ColumnData::Str { dict, codes } => match codes[i] {
                u32::MAX => out.extend_from_slice(b"null"),
                c => write_str(out, &dict[c as usize]),
            },
            ColumnData::Num(v) => write_num(out, v[i]),
            ColumnData::Bool(v) => out.extend_from_slice(match v[i] {
                Some(true) => b"true",
                Some(false) => b"false",
                None => b"null",
            }),
            ColumnData::Json(v) => {
                let _ = serde_json::to_writer(&mut *out, &v[i]);
            }
        }
    }

    pub(super) fn compare(&self, a: usize, b: usize) -> Ordering {
        match &self.data {
            ColumnData::Str { dict, codes } => match (codes[a], codes[b]) {
                (u32::MAX, u32::MAX) => Ordering::Equal,
                (u32::MAX, _) => Ordering::Greater,
                (_, u32::MAX) => Ordering::Less,
                (x, y) => dict[x as usize].cmp(&dict[y as usize]),
            },
            ColumnData::Num(v) => match (v[a].is_nan(), v[b].is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => v[a].total_cmp(&v[b]),
            },
            ColumnData::Bool(v) => v[a].cmp(&v[b]),
            ColumnData::Json(v) => v[a].to_string().cmp(&v[b].to_string()),
        }
    }

    /// A predicate for `name=value`; errors name the parameter.
    pub(super) fn matcher(&self, value: &str) -> Result<Box<dyn Fn(usize) -> bool + Send + Sync + '_>, ApiError> {
        match &self.data {
            ColumnData::Str { dict, codes } => {
                // Crime types match their API slugs too (`crime_type=burglary`).
                let wanted = if self.name == "crime_type" {
                    crate::crime_types::canonical(value).unwrap_or(value)
                } else {
                    value
                };
                let code = dict.iter().position(|d| &**d == wanted).map(|c| c as u32);
                Ok(Box::new(move |i| Some(codes[i]) == code))
            }
            ColumnData::Num(v) => {
                let x: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::param(&self.name, format!("{value:?} is not a number")))?;
                Ok(Box::new(move |i| v[i] == x))
            }
            ColumnData::Bool(v) => {
                let x = match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(ApiError::param(&self.name, format!("{value:?} is not true or false"))),
                };
                Ok(Box::new(move |i| v[i] == Some(x)))
            }
            ColumnData::Json(v) => {
                let parsed: Option<Value> = serde_json::from_str(value).ok();
                let value = value.to_string();
                Ok(Box::new(move |i| match &v[i] {
                    Value::String(s) => *s == value,
                    other => parsed.as_ref() == Some(other),
                }))
            }
        }
    }

    /// The JSON Schema type of the column, for queryables and the OpenAPI document.
    pub fn schema_type(&self) -> &'static str {
        match self.data {
            ColumnData::Str { .. } => "string",
            ColumnData::Num(_) => "number",
            ColumnData::Bool(_) => "boolean",
            ColumnData::Json(_) => "object",
        }
    }
}
