//! Ingest never destroys or silently drops data (issue 19): `--out` on a
//! folder that is not a dataset, concurrent ingests, stray quotes, empty
//! files, headers that do not match their rows, damaged shapefiles, paths
//! outside the data root, files named `.gz` that are not gzip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hotspots::config::Config;
use hotspots::dataset::{read_manifest, Dataset};
use hotspots::ingest::{ingest, IngestOptions};

use crate::common;

fn hotspots(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap()
}

fn ingest_cli(config: &Path, root: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "ingest".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--data-root".as_ref(),
        root.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    hotspots(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn quiet() -> IngestOptions {
    IngestOptions {
        quiet: true,
        force: true,
        ..Default::default()
    }
}

/// The demo city's raw files and config, without its dataset.
fn demo_raw(dir: &Path, seed: u64) -> (PathBuf, PathBuf) {
    let demo = hotspots::demo::run(dir, seed, true).unwrap();
    std::fs::remove_dir_all(&demo.dataset).unwrap();
    (demo.config, demo.data_root)
}

#[test]
fn out_that_is_not_a_dataset_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (config, root) = demo_raw(dir.path(), 5);
    let victim = dir.path().join("victim");
    std::fs::create_dir_all(victim.join("sub")).unwrap();
    std::fs::write(victim.join("thesis.txt"), "x\n").unwrap();
    std::fs::write(victim.join("sub/data.csv"), "y\n").unwrap();
    let with_slash = PathBuf::from(format!("{}/", victim.display()));
    for out in [&victim, &with_slash] {
        let o = ingest_cli(&config, &root, out, &[]);
        assert!(!o.status.success(), "refused");
        let err = stderr(&o);
        assert!(
            err.contains("victim")
                && err.contains("not a hotspots dataset")
                && err.contains("new path or an empty directory"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(victim.join("thesis.txt")).unwrap(), "x\n");
        assert_eq!(std::fs::read_to_string(victim.join("sub/data.csv")).unwrap(), "y\n");
    }
    // A folder with a manifest.json that is not ours is refused too.
    std::fs::write(victim.join("manifest.json"), "{\"name\": \"my project\"}").unwrap();
    let o = ingest_cli(&config, &root, &victim, &[]);
    assert!(
        !o.status.success() && stderr(&o).contains("did not write"),
        "{}",
        stderr(&o)
    );
    assert!(victim.join("thesis.txt").exists());
    // A file is refused.
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let o = ingest_cli(&config, &root, &file, &[]);
    assert!(
        !o.status.success() && stderr(&o).contains("is a file"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    // The library refuses as the CLI does.
    let cfg = Config::load(&config).unwrap();
    let err = ingest(&cfg, &root, &victim, &quiet()).unwrap_err().to_string();
    assert!(err.contains("not a hotspots dataset"), "{err}");
    // An empty folder and a new path are fine, and a dataset is replaced.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = ingest_cli(&config, &root, &empty, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    Dataset::open(&empty).unwrap();
    let o = ingest_cli(&config, &root, &empty, &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    Dataset::open(&empty).unwrap();
}

/// Two ingests into one `--out` at once, `rounds` times: both succeed and
/// the result is always one complete dataset equal to a lone ingest's.
fn concurrent_rounds(config: &Path, root: &Path, parent: &Path, rounds: usize) {
    let reference = parent.join("reference");
    let o = ingest_cli(config, root, &reference, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = read_manifest(&reference).unwrap().totals;
    let out = parent.join("conc");
    for round in 0..rounds {
        let children: Vec<_> = (0..2)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_hotspots"))
                    .args(["--quiet", "ingest", "--force", "--config"])
                    .arg(config)
                    .arg("--data-root")
                    .arg(root)
                    .arg("--out")
                    .arg(&out)
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "round {round}: {}", stderr(&o));
        }
        let ds = Dataset::open(&out).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(ds.manifest.totals, want, "round {round}");
        assert_eq!(ds.incidents.height() as u64, want.rows_accepted, "round {round}");
        let leftovers: Vec<_> = std::fs::read_dir(parent)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
    }
}

#[test]
fn concurrent_ingests_leave_one_complete_dataset_demo() {
    let dir = tempfile::tempdir().unwrap();
    let (config, root) = demo_raw(dir.path(), 6);
    concurrent_rounds(&config, &root, dir.path(), 4);
}

#[test]
fn concurrent_ingests_leave_one_complete_dataset_real_burglary() {
    let Some(data) = common::real_data("concurrent_ingests_real") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::repo().join("data/london-burglary.toml"))
        .unwrap()
        .replace(
            "paths = [\"police_uk/metropolitan_burglary\"]",
            "paths = [\"police_uk/metropolitan_burglary/2024-0[1-3]-*.csv.gz\"]",
        );
    let config = dir.path().join("three-months.toml");
    std::fs::write(&config, text).unwrap();
    concurrent_rounds(&config, &data, dir.path(), 3);
}

/// A data root holding the real ward and borough shapefiles (copied) and
/// the given incident files, with a config reading them.
struct Root {
    _dir: tempfile::TempDir,
    root: PathBuf,
    config: Config,
}

fn root_with_files(files: &[(&str, Vec<u8>)]) -> Option<Root> {
    let data = common::real_data("ingest_safety")?;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let esri = "london_boundaries/statistical-gis-boundaries-london/ESRI";
    std::fs::create_dir_all(root.join(esri)).unwrap();
    for stem in ["London_Ward", "London_Borough_Excluding_MHW"] {
        for ext in ["shp", "shx", "dbf", "prj"] {
            let name = format!("{esri}/{stem}.{ext}");
            std::fs::copy(data.join(&name), root.join(&name)).unwrap();
        }
    }
    std::fs::create_dir_all(root.join("crime")).unwrap();
    for (name, bytes) in files {
        std::fs::write(root.join("crime").join(name), bytes).unwrap();
    }
    let config = Config::from_toml(
        &format!(
            r#"
[boundaries.wards]
path = "{esri}/London_Ward.shp"
parent_code_field = "LB_GSS_CD"
parent_name_field = "BOROUGH"

[boundaries.boroughs]
path = "{esri}/London_Borough_Excluding_MHW.shp"

[[incidents]]
name = "met"
format = "police_uk_csv"
paths = ["crime"]
"#
        ),
        "test.toml",
    )
    .unwrap();
    Some(Root {
        _dir: dir,
        root,
        config,
    })
}

fn real_file(name: &str) -> Option<Vec<u8>> {
    let data = common::real_data("ingest_safety")?;
    let gz = std::fs::read(data.join("police_uk/metropolitan_burglary").join(name)).unwrap();
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    Some(text)
}

/// `text` with a `"` put before the Location field (`On or near …`, or
/// `No Location`) of line `line` (1-based).
fn with_stray_quote(text: &[u8], line: usize) -> Vec<u8> {
    let s = String::from_utf8(text.to_vec()).unwrap();
    let mut lines: Vec<String> = s.split_inclusive('\n').map(str::to_string).collect();
    let l = &mut lines[line - 1];
    // The index column, Crime ID, Month, Reported by, Falls within,
    // Longitude, Latitude: Location follows the seventh comma.
    let at = l.match_indices(',').nth(6).unwrap().0 + 1;
    assert!(
        l[at..].starts_with("On or near") || l[at..].starts_with("No Location"),
        "line {line}: {l}"
    );
    l.insert(at, '"');
    lines.concat().into_bytes()
}

/// `wc -l`, plus one when the last line has no line ending.
fn physical_lines(bytes: &[u8]) -> u64 {
    let n = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    n + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

#[test]
fn a_stray_quote_rejects_one_line_and_keeps_the_rest() {
    let name = "2013-12-metropolitan-street-burglary.csv.gz";
    let Some(text) = real_file(name) else { return };
    let total = physical_lines(&text);
    let clean = root_with_files(&[("clean.csv", text.clone())]).unwrap();
    let out = clean.root.join("../clean-ds");
    let base = ingest(&clean.config, &clean.root, &out, &quiet()).unwrap();
    let base_file = &base.sources[0].files[0];
    assert_eq!(base_file.rows_read, total - 1);
    for line in [2usize, 7, (total / 2) as usize, total as usize] {
        let damaged = with_stray_quote(&text, line);
        let mut cases = vec![("quote", damaged.clone())];
        if line < total as usize {
            // A byte that is not UTF-8 on the next line (text the quote
            // used to swallow) is that line's own reject, not the quote's.
            let mut bad_utf8 = damaged.clone();
            let next = bad_utf8
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .nth(line - 1)
                .unwrap()
                .0
                + 3;
            bad_utf8.insert(next, 0xFF);
            cases.push(("quote and bad byte", bad_utf8));
        }
        for (what, bytes) in cases {
            let r = root_with_files(&[("damaged.csv", bytes.clone())]).unwrap();
            let out = r.root.join("../ds");
            let m = ingest(&r.config, &r.root, &out, &quiet()).unwrap();
            let f = &m.sources[0].files[0];
            let lines = f.lines.expect("a CSV file has its lines counted");
            assert_eq!(
                lines.read,
                physical_lines(&bytes),
                "{what} at {line}: books balance against wc -l"
            );
            assert_eq!(
                lines.read,
                lines.header + lines.blank + lines.continuation + f.rows_read
            );
            assert_eq!(
                f.rows_read, base_file.rows_read,
                "{what} at {line}: every line is a row"
            );
            assert_eq!(f.rows_read, f.rows_accepted + f.rows_rejected);
            let rejects = hotspots::dataset::read_parquet(&out.join("rejects.parquet")).unwrap();
            let reasons = rejects.column("reason").unwrap().str().unwrap();
            let lines_col = rejects.column("line").unwrap().u32().unwrap();
            let raw = rejects.column("raw").unwrap().str().unwrap();
            let malformed: Vec<usize> = (0..rejects.height())
                .filter(|&i| reasons.get(i) == Some("malformed_row"))
                .collect();
            let expect_bad_utf8 = usize::from(what != "quote");
            assert_eq!(malformed.len(), 1 + expect_bad_utf8, "{what} at {line}");
            let i = malformed[0];
            assert_eq!(lines_col.get(i), Some(line as u32), "{what}: the damaged line itself");
            if expect_bad_utf8 == 1 {
                let j = malformed[1];
                assert_eq!(lines_col.get(j), Some(line as u32 + 1));
                let d = rejects
                    .column("detail")
                    .unwrap()
                    .str()
                    .unwrap()
                    .get(j)
                    .unwrap()
                    .to_string();
                assert_eq!(d, "not valid UTF-8");
            }
            assert!(
                raw.get(i).unwrap().len() < 400,
                "only that line is kept as its raw text"
            );
            let detail = rejects
                .column("detail")
                .unwrap()
                .str()
                .unwrap()
                .get(i)
                .unwrap()
                .to_string();
            assert!(detail.contains("double quote") && detail.len() < 300, "{detail}");
            // The rest of the file is read as before: one row fewer accepted
            // (or the same when the damaged line was a reject anyway).
            assert!(
                f.rows_accepted + 1 + expect_bad_utf8 as u64 >= base_file.rows_accepted,
                "{what} at {line}"
            );
            assert!(f.rows_accepted + 2 >= base_file.rows_accepted);
        }
    }
}

#[test]
fn empty_files_are_kept_with_a_warning_and_listed_by_info() {
    let gz_empty = Vec::new();
    let Some(r) = root_with_files(&[
        ("a-empty.csv.gz", gz_empty),
        ("b-empty.csv", Vec::new()),
        (
            "c-header-only.csv",
            b"Crime ID,Month,Longitude,Latitude,Location,Crime type\r\n".to_vec(),
        ),
        (
            "d-one-row.csv",
            b"Crime ID,Month,Longitude,Latitude,Location,Crime type\n,2024-01,-0.1,51.5,On or near X,Burglary\n"
                .to_vec(),
        ),
    ]) else {
        return;
    };
    let out = r.root.join("../ds");
    let m = ingest(&r.config, &r.root, &out, &quiet()).unwrap();
    let files = &m.sources[0].files;
    assert_eq!(files.len(), 4, "every file is recorded");
    let warning = |i: usize| files[i].warning.clone().unwrap_or_default();
    assert!(warning(0).contains("empty file (0 bytes)"), "{}", warning(0));
    assert!(warning(1).contains("empty file (0 bytes)"), "{}", warning(1));
    assert!(warning(2).contains("a header and no rows"), "{}", warning(2));
    assert_eq!(files[3].warning, None);
    assert_eq!(files[3].rows_accepted, 1);
    let info = hotspots(&["info".as_ref(), out.as_os_str()]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{}", stderr(&info));
    assert!(text.contains("files that yielded no rows (3)"), "{text}");
    assert!(text.contains("crime/a-empty.csv.gz: empty file"), "{text}");
    assert!(text.contains("crime/c-header-only.csv: a header and no rows"), "{text}");
}

#[test]
fn a_header_that_does_not_match_its_rows_is_a_file_error() {
    let name = "2013-12-metropolitan-street-burglary.csv.gz";
    let Some(text) = real_file(name) else { return };
    let s = String::from_utf8(text).unwrap();
    let broken = s.replacen("Latitude,Location,LSOA code", "Latitude,LSOA code", 1);
    let r = root_with_files(&[("broken.csv", broken.into_bytes())]).unwrap();
    let err = ingest(&r.config, &r.root, &r.root.join("../ds"), &quiet())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("broken.csv") && err.contains("line 1") && err.contains("the header does not match the rows"),
        "{err}"
    );
    assert!(
        err.contains("header has 12 columns") && err.contains("most have 13"),
        "{err}"
    );
    assert!(err.len() < 600, "a short message: {err}");
}

#[test]
fn a_gz_file_that_is_not_gzip_says_so() {
    let noise: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let Some(r) = root_with_files(&[("noise.csv.gz", noise)]) else {
        return;
    };
    let err = ingest(&r.config, &r.root, &r.root.join("../ds"), &quiet())
        .unwrap_err()
        .to_string();
    assert!(err.contains("noise.csv.gz") && err.contains("not gzip"), "{err}");
}

#[test]
fn config_paths_stay_inside_the_data_root() {
    let dir = tempfile::tempdir().unwrap();
    let (config, root) = demo_raw(dir.path(), 9);
    let text = std::fs::read_to_string(&config).unwrap();
    let station_path = text
        .lines()
        .skip_while(|l| !l.contains("kind = \"station\""))
        .find(|l| l.starts_with("path"))
        .unwrap()
        .to_string();
    for evil in ["../../../../../../../etc/passwd", "/etc/passwd"] {
        let bad = text.replace(&station_path, &format!("path = {evil:?}"));
        let bad_config = dir.path().join("evil.toml");
        std::fs::write(&bad_config, bad).unwrap();
        let o = ingest_cli(&bad_config, &root, &dir.path().join("ds"), &[]);
        let err = stderr(&o);
        assert!(!o.status.success());
        assert!(
            err.contains("pois[1].path") && err.contains("--allow-outside-data-root"),
            "{err}"
        );
        assert!(!err.contains("root:x:0"), "nothing of the file is echoed: {err}");
        // Allowed on request: then the file is read, and a file that is not
        // a stations CSV is reported with a short excerpt at most.
        let o = ingest_cli(
            &bad_config,
            &root,
            &dir.path().join("ds"),
            &["--allow-outside-data-root"],
        );
        let err = stderr(&o);
        assert!(!o.status.success());
        assert!(err.len() < 1500, "{err}");
    }
}

/// Copies the demo city's ward shapefile set under a new name, minus the
/// files in `drop`, with `prj` as its `.prj` when given.
fn shapefile_variant(root: &Path, name: &str, drop: &[&str], prj: Option<&str>) -> String {
    let from = root.join("boundaries/Demo_Ward");
    let to = root.join("boundaries").join(name);
    for ext in ["shp", "shx", "dbf", "prj"] {
        if !drop.contains(&ext) {
            std::fs::copy(from.with_extension(ext), to.with_extension(ext)).unwrap();
        }
    }
    if let Some(p) = prj {
        std::fs::write(to.with_extension("prj"), p).unwrap();
    }
    format!("boundaries/{name}.shp")
}

fn ward_error(root: &Path, config_text: &str, ward_path: &str) -> String {
    let text = config_text.replace("boundaries/Demo_Ward.shp", ward_path);
    let cfg = Config::from_toml(&text, "t.toml").unwrap();
    ingest(&cfg, root, &root.join("../ds-err"), &quiet())
        .unwrap_err()
        .to_string()
}

#[test]
fn damaged_shapefiles_are_reported_in_sentences_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (config, root) = demo_raw(dir.path(), 11);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("boundaries/Demo_Ward.shp"), "{text}");
    let wgs84 = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
    let p = shapefile_variant(&root, "Wgs", &[], Some(wgs84));
    let err = ward_error(&root, &text, &p);
    assert!(
        err.contains("Wgs.prj") && err.contains("WGS84") && err.contains("British National Grid"),
        "{err}"
    );
    let err = ward_error(&root, &text, "boundaries/Nowhere.shp");
    assert!(
        err.contains("Nowhere.shp") && err.contains(".shp file does not exist"),
        "{err}"
    );
    assert!(!err.contains(".prj"), "{err}");
    let p = shapefile_variant(&root, "NoDbf", &["dbf"], None);
    let err = ward_error(&root, &text, &p);
    assert!(err.contains("NoDbf.dbf") && err.contains("is missing"), "{err}");
    let p = shapefile_variant(&root, "Short", &[], None);
    let shp = root.join(&p);
    let bytes = std::fs::read(&shp).unwrap();
    std::fs::File::create(&shp)
        .unwrap()
        .write_all(&bytes[..bytes.len() / 2])
        .unwrap();
    let err = ward_error(&root, &text, &p);
    assert!(
        err.contains("Short.shp") && err.contains("truncated or damaged"),
        "{err}"
    );
}
