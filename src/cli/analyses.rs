//! One command per analysis, built from its parameter declaration
//! ([`hotspots::analysis::params::Spec`]): each parameter offered on the
//! CLI becomes `--flag` (the parameter's name with `-` for `_`, unless it
//! declares another), with its doc, unit, range, default and choices in
//! `--help`. Every command also takes `--dataset` and `--out`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Arg, ArgAction, ArgMatches, Command};
use hotspots::analysis::params::{Param, ParamType, Spec, Surface, Values};
use hotspots::analysis::run::{self, Analysis};
use hotspots::analysis::AnalysisError;

/// The analyses offered on the CLI.
fn cli_analyses() -> impl Iterator<Item = &'static Analysis> {
    run::ALL.iter().filter(|a| a.spec.cli)
}

/// The analysis a subcommand names.
pub fn find(name: &str) -> Option<&'static Analysis> {
    cli_analyses().find(|a| a.spec.id == name)
}

/// A choice as the CLI spells it (`inverse-distance`), accepting the
/// server's spelling (`inverse_distance`) too.
fn possible_value(choice: &'static str) -> PossibleValue {
    let kebab = choice.replace('_', "-");
    if kebab == choice {
        PossibleValue::new(choice)
    } else {
        PossibleValue::new(kebab).alias(choice)
    }
}

/// The `--help` line of a parameter: its doc, unit and range, and its
/// default.
fn help(p: &Param) -> String {
    let mut h = p.help();
    if let Some(d) = p.default {
        h.push_str(&format!(" [default: {}]", d.replace('_', "-")));
    }
    h
}

/// The flag of one parameter.
fn arg(p: &'static Param) -> Arg {
    let mut a = Arg::new(p.name).long(p.flag()).help(help(p));
    if p.ty == ParamType::Flag {
        return a.action(ArgAction::SetTrue);
    }
    a = a.value_name(p.name.to_uppercase());
    if p.list {
        a = a.action(ArgAction::Append);
    }
    if !p.choices.is_empty() {
        a = a.value_parser(PossibleValuesParser::new(p.choices.iter().copied().map(possible_value)));
    }
    a
}

/// The command of one analysis (`--dataset` and `--out` optional for one
/// that can run without a dataset).
pub fn command(spec: &Spec) -> Command {
    let offline = find(spec.id).is_some_and(|a| a.offline.is_some());
    let out_help = match spec.id {
        "evaluate" => "Every origin, method and coverage as CSV (plot-ready).",
        "surge" => "Output file: .geojson (ranked circles) or .csv.",
        "poi-risk" => "POIs as points (.geojson) or a table (.csv), ranked.",
        "pledge" => "Per month and cumulative (or per area with --by): .csv or .geojson.",
        "wdd" => "Output file: from counts, the result as JSON; from the dataset, areas and pooled figures as .geojson or .csv.",
        _ => "Output file: .geojson (RFC 7946) or .csv.",
    };
    let cmd = Command::new(spec.id)
        .about(spec.title)
        .long_about(spec.about)
        .arg(
            Arg::new("dataset")
                .long("dataset")
                .required(!offline)
                .value_parser(clap::value_parser!(PathBuf))
                .help("The dataset directory."),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .required(!offline)
                .value_parser(clap::value_parser!(PathBuf))
                .help(out_help),
        );
    cmd.args(spec.params().filter(|p| p.on_cli()).map(arg))
}

/// Every analysis command.
pub fn commands() -> Vec<Command> {
    cli_analyses().map(|a| command(&a.spec)).collect()
}

/// The values given on the command line, by parameter name.
fn given(spec: &Spec, m: &ArgMatches) -> BTreeMap<String, Vec<String>> {
    spec.params()
        .filter(|p| p.on_cli())
        .filter_map(|p| {
            if p.ty == ParamType::Flag {
                return m
                    .get_flag(p.name)
                    .then(|| (p.name.to_string(), vec!["true".to_string()]));
            }
            let values: Vec<String> = m.get_many::<String>(p.name)?.cloned().collect();
            Some((p.name.to_string(), values))
        })
        .collect()
}

/// An analysis error as the CLI user sees it: the flag, not the
/// parameter's HTTP name.
fn cli_error(spec: &Spec, e: AnalysisError) -> anyhow::Error {
    match e {
        AnalysisError::Param { name, message } => {
            let flag = spec.param(&name).map(|p| p.flag()).unwrap_or(name.replace('_', "-"));
            anyhow::anyhow!("--{flag}: {message}")
        }
        other => other.into(),
    }
}

/// Runs an analysis: checks every value, opens the dataset, computes,
/// writes `--out` and any extra outputs asked for, prints the summary.
pub fn run(analysis: &Analysis, m: &ArgMatches) -> anyhow::Result<()> {
    let spec = &analysis.spec;
    let values = Values::new(*spec, given(spec, m))
        .map_err(|e| cli_error(spec, e))?
        .on(Surface::Cli);
    let out: Option<&PathBuf> = m.get_one("out");
    if let Some(offline) = analysis.offline {
        if let Some(computed) = offline(&values).map_err(|e| cli_error(spec, e))? {
            if let Some(out) = out {
                computed.main.write(out)?;
            }
            println!("{}", computed.summary);
            if let Some(out) = out {
                println!("wrote {}", out.display());
            }
            return Ok(());
        }
    }
    let dataset: &PathBuf = m
        .get_one("dataset")
        .ok_or_else(|| anyhow::anyhow!("--dataset: required (the values given need the dataset)"))?;
    let out: &PathBuf = out.ok_or_else(|| anyhow::anyhow!("--out: required"))?;
    let ds = hotspots::dataset::Dataset::open_for_analysis(dataset)?;
    // The CLI runs what its own user asks for; a cost past the server's
    // default limits is worth a warning, not a refusal.
    let cost = (analysis.cost)(&ds, &values).map_err(|e| cli_error(spec, e))?;
    for (param, message) in cost.excesses(&hotspots::analysis::cost::Limits::default()) {
        let flag = spec.param(&param).map(|p| p.flag()).unwrap_or(param.replace('_', "-"));
        tracing::warn!("--{flag}: {message} (a server would refuse this; running it anyway)");
    }
    let memo = run::Memo::default();
    let ctx = run::Ctx {
        dataset: &ds,
        memo: &memo,
    };
    let computed = (analysis.run)(&ctx, &values).map_err(|e| cli_error(spec, e))?;
    computed.main.write(out)?;
    for (param, output) in &computed.extras {
        if let Some(path) = values.given_path(param) {
            output
                .write(&path)
                .with_context(|| format!("writing --{}", param.replace('_', "-")))?;
        }
    }
    if !computed.summary.is_empty() {
        println!("{}", computed.summary);
    }
    println!("wrote {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The CLI and the server's `/api` are derived from the same
    /// declarations; this checks they agree: every parameter offered on
    /// both is a flag and a query parameter with the same default and the
    /// same choices.
    #[test]
    fn cli_flags_and_api_parameters_agree() {
        let dir = tempfile::tempdir().unwrap();
        let demo = hotspots::demo::run(dir.path(), 3, true).unwrap();
        let ds = hotspots::dataset::Dataset::open(&demo.dataset).unwrap();
        let st = hotspots::api::AppState::new(ds).unwrap();
        let api = hotspots::api::openapi::document(&st, "http://localhost");
        let mut checked = 0;
        for a in run::ALL {
            let spec = &a.spec;
            let cmd = spec.cli.then(|| command(spec));
            let op = spec
                .http
                .then(|| &api["paths"][format!("/collections/{}/items", spec.id)]["get"]["parameters"]);
            for p in spec.params() {
                let flag = cmd
                    .as_ref()
                    .and_then(|c| c.get_arguments().find(|x| x.get_id() == p.name));
                let query = op.and_then(|params| params.as_array().unwrap().iter().find(|q| q["name"] == p.name));
                assert_eq!(flag.is_some(), spec.cli && p.on_cli(), "{}: --{}", spec.id, p.flag());
                assert_eq!(query.is_some(), spec.http && p.on_http(), "{}: {}", spec.id, p.name);
                let (Some(flag), Some(query)) = (flag, query) else {
                    continue;
                };
                checked += 1;
                assert_eq!(flag.get_long(), Some(p.flag().as_str()));
                // Defaults: the --help text states the same default the schema has.
                let schema = &query["schema"];
                let api_default = match (&schema["default"], p.list) {
                    (Value::Null, _) => None,
                    (Value::Array(v), true) => Some(
                        v.iter()
                            .map(|x| x.to_string().trim_matches('"').to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    (d, _) => Some(d.to_string().trim_matches('"').to_string()),
                };
                let help = flag.get_help().unwrap().to_string();
                match &api_default {
                    Some(d) => {
                        let parsed = |s: &str| s.parse::<f64>().ok();
                        let cli_default = help
                            .rsplit_once("[default: ")
                            .map(|(_, d)| d.trim_end_matches(']').replace('-', "_"))
                            .unwrap_or_else(|| panic!("{}: --{} states no default", spec.id, p.flag()));
                        let same = cli_default == *d
                            || cli_default.split(',').map(parsed).collect::<Vec<_>>()
                                == d.split(',').map(parsed).collect::<Vec<_>>();
                        assert!(same, "{}: {}: CLI {cli_default} vs API {d}", spec.id, p.name);
                    }
                    None => assert!(!help.contains("[default: "), "{}: {}", spec.id, p.name),
                }
                // Choices: the CLI's (in its spelling) are the API's.
                let cli_choices: Vec<String> = flag
                    .get_possible_values()
                    .iter()
                    .map(|v| v.get_name().replace('-', "_"))
                    .collect();
                let api_choices: Vec<String> = schema["enum"]
                    .as_array()
                    .map(|v| v.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                assert_eq!(cli_choices, api_choices, "{}: {}", spec.id, p.name);
            }
        }
        assert!(checked > 40, "only {checked} parameters compared");
    }

    #[test]
    fn errors_name_the_flag() {
        let a = find("surge").unwrap();
        let m = command(&a.spec)
            .try_get_matches_from(["surge", "--dataset", "d", "--out", "o", "--max-per-borough", "0"])
            .unwrap();
        let err = run(a, &m).unwrap_err().to_string();
        assert!(err.starts_with("--max-per-borough: must be at least 1"), "{err}");
        let m = command(&a.spec)
            .try_get_matches_from(["surge", "--dataset", "d", "--out", "o", "--predictor", "gi-star"])
            .unwrap_err()
            .to_string();
        assert!(m.contains("gistar"), "{m}");
    }
}
