//! The `/metrics` scrape: a parser of the two text formats a Prometheus
//! server reads, the classic text format (version 0.0.4) and OpenMetrics 1.0
//! (which the `prometheus-client` crate writes), into samples a benchmark
//! looks up by name and labels.
//!
//! Both formats write a sample as `name{label="value",…} value [timestamp]`,
//! with `\\`, `\"` and `\n` escaped in label values. OpenMetrics adds
//! `# UNIT` lines, names a counter's family without the `_total` its samples
//! carry, may follow a sample with an exemplar (`# {trace_id="…"} 1.0`), and
//! ends with `# EOF`. Timestamps and exemplars are checked and dropped.

use std::collections::BTreeMap;
use std::fmt;

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its name (`provisio_logins_total`, `provisio_login_duration_seconds_bucket`).
    pub name: String,
    /// Its labels in the order written, their values unescaped.
    pub labels: Vec<(String, String)>,
    /// Its value (`+Inf`, `-Inf` and `NaN` included).
    pub value: f64,
}

impl Sample {
    /// The value of its label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// True when its labels are exactly `labels`, in any order.
    fn has_labels(&self, labels: &[(&str, &str)]) -> bool {
        self.labels.len() == labels.len() && labels.iter().all(|(n, v)| self.label(n) == Some(v))
    }
}

/// A scrape of `/metrics`: every sample in order, and each family's type.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// The samples.
    pub samples: Vec<Sample>,
    /// Each metric family's type (`counter`, `gauge`, `histogram`, …) by
    /// family name, from its `# TYPE` line.
    pub types: BTreeMap<String, String>,
    /// True when the text ended with `# EOF`, as OpenMetrics does.
    pub open_metrics: bool,
}

/// Why a text is not a scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The suffixes a family's samples add to its name.
const SAMPLE_SUFFIXES: [&str; 8] = ["_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info"];

/// The types a `# TYPE` line may name, in either format.
const TYPES: [&str; 9] =
    ["counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary", "untyped", "unknown"];

impl Scrape {
    /// Parses a scrape in the classic Prometheus text format or in
    /// OpenMetrics. Comments other than `# HELP`, `# TYPE`, `# UNIT` and
    /// `# EOF` are skipped; anything else that is not a well-formed sample
    /// is an error.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut scrape = Self::default();
        for (index, line) in text.lines().enumerate() {
            let error = |message: String| ParseError { line: index + 1, message };
            if line.trim().is_empty() {
                continue;
            }
            if scrape.open_metrics {
                return Err(error("text after `# EOF`".into()));
            }
            match line.strip_prefix('#') {
                Some(comment) => scrape.comment(comment).map_err(error)?,
                None => scrape.samples.push(sample(line).map_err(error)?),
            }
        }
        Ok(scrape)
    }

    /// A `#` line: metadata, the end, or a comment.
    fn comment(&mut self, comment: &str) -> Result<(), String> {
        let mut words = comment.split_whitespace();
        match words.next() {
            Some("EOF") if words.next().is_none() => self.open_metrics = true,
            Some("TYPE") => {
                let family = words.next().ok_or("# TYPE without a metric name")?;
                metric_name(family)?;
                let kind = words.next().ok_or_else(|| format!("# TYPE {family} without a type"))?;
                if !TYPES.contains(&kind) || words.next().is_some() {
                    return Err(format!("# TYPE {family}: unknown type {kind:?}"));
                }
                self.types.insert(family.to_owned(), kind.to_owned());
            }
            Some(keyword @ ("HELP" | "UNIT")) => {
                metric_name(words.next().unwrap_or_default()).map_err(|e| format!("# {keyword}: {e}"))?
            }
            _ => {}
        }
        Ok(())
    }

    /// The value of the sample `name` whose labels are exactly `labels`, in
    /// any order (`&[]` for none).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples.iter().find(|s| s.name == name && s.has_labels(labels)).map(|s| s.value)
    }

    /// The sum of every sample named `name`, whatever its labels (0 when
    /// none).
    pub fn sum(&self, name: &str) -> f64 {
        self.samples.iter().filter(|s| s.name == name).map(|s| s.value).sum()
    }

    /// The sum over these scrapes of [`Scrape::sum`] (several servers).
    pub fn sum_all(scrapes: &[Scrape], name: &str) -> f64 {
        scrapes.iter().map(|s| s.sum(name)).sum()
    }

    /// The type of the family the sample `name` belongs to: its own
    /// `# TYPE` (the classic format names a counter `…_total`), or that of
    /// its name less a sample suffix (OpenMetrics names it without).
    pub fn type_of(&self, name: &str) -> Option<&str> {
        let family = |name: &str| self.types.get(name).map(String::as_str);
        family(name).or_else(|| SAMPLE_SUFFIXES.iter().find_map(|s| family(name.strip_suffix(s)?)))
    }
}

/// A sample line: `name{labels} value [timestamp] [# exemplar]`.
fn sample(line: &str) -> Result<Sample, String> {
    let mut cursor = Cursor(line);
    let name = cursor.name(metric_char)?.to_owned();
    metric_name(&name)?;
    let labels = match cursor.eat('{') {
        true => cursor.labels()?,
        false => Vec::new(),
    };
    let (numbers, exemplar) = match cursor.0.split_once('#') {
        Some((numbers, exemplar)) => (numbers, Some(exemplar)),
        None => (cursor.0, None),
    };
    if !numbers.starts_with([' ', '\t']) {
        return Err(format!("{name}: no space before the value"));
    }
    let mut numbers = numbers.split_whitespace();
    let value = number(numbers.next().ok_or_else(|| format!("{name}: no value"))?)?;
    if let Some(timestamp) = numbers.next() {
        number(timestamp).map_err(|e| format!("{name}: timestamp: {e}"))?;
    }
    if let Some(extra) = numbers.next() {
        return Err(format!("{name}: {extra:?} after the value and timestamp"));
    }
    if let Some(exemplar) = exemplar {
        self::exemplar(exemplar).map_err(|e| format!("{name}: exemplar: {e}"))?;
    }
    Ok(Sample { name, labels, value })
}

/// An exemplar after its `#`: ` {labels} value [timestamp]`.
fn exemplar(text: &str) -> Result<(), String> {
    let mut cursor = Cursor(text.trim_start());
    if !cursor.eat('{') {
        return Err("no labels".into());
    }
    cursor.labels()?;
    let mut numbers = cursor.0.split_whitespace();
    number(numbers.next().ok_or("no value")?)?;
    if let Some(timestamp) = numbers.next() {
        number(timestamp)?;
    }
    match numbers.next() {
        Some(extra) => Err(format!("{extra:?} after the value and timestamp")),
        None => Ok(()),
    }
}

/// A value or timestamp: a decimal or exponent number, `±Inf` or `NaN`.
fn number(text: &str) -> Result<f64, String> {
    let value = match text {
        "+Inf" | "Inf" | "+inf" | "inf" => f64::INFINITY,
        "-Inf" | "-inf" => f64::NEG_INFINITY,
        "NaN" | "nan" => f64::NAN,
        _ if text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) => {
            text.parse().map_err(|_| format!("{text:?} is not a number"))?
        }
        _ => return Err(format!("{text:?} is not a number")),
    };
    Ok(value)
}

fn metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn metric_name(name: &str) -> Result<(), String> {
    match name.chars().next() {
        Some(c) if !c.is_ascii_digit() && name.chars().all(metric_char) => Ok(()),
        _ => Err(format!("{name:?} is not a metric name")),
    }
}

/// What is left of a line to read.
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    /// Takes `c` if it comes next (after blanks).
    fn eat(&mut self, c: char) -> bool {
        let rest = self.0.trim_start_matches([' ', '\t']);
        match rest.strip_prefix(c) {
            Some(after) => {
                self.0 = after;
                true
            }
            None => false,
        }
    }

    /// The longest run of `allowed` characters next (after blanks), not
    /// empty and not starting with a digit.
    fn name(&mut self, allowed: fn(char) -> bool) -> Result<&'a str, String> {
        let rest = self.0.trim_start_matches([' ', '\t']);
        let end = rest.find(|c: char| !allowed(c)).unwrap_or(rest.len());
        let (name, after) = rest.split_at(end);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("a name expected at {rest:?}"));
        }
        self.0 = after;
        Ok(name)
    }

    /// The labels after a `{`, through the closing `}`.
    fn labels(&mut self) -> Result<Vec<(String, String)>, String> {
        let mut labels: Vec<(String, String)> = Vec::new();
        loop {
            if self.eat('}') {
                return Ok(labels);
            }
            let name = self.name(label_char)?;
            if !self.eat('=') || !self.eat('"') {
                return Err(format!("label {name}: a quoted value expected"));
            }
            let value = self.quoted().map_err(|e| format!("label {name}: {e}"))?;
            if labels.iter().any(|(n, _)| n == name) {
                return Err(format!("label {name} twice"));
            }
            labels.push((name.to_owned(), value));
            if self.eat('}') {
                return Ok(labels);
            }
            if !self.eat(',') {
                return Err(format!("after label {name}: `,` or `}}` expected"));
            }
        }
    }

    /// A label value after its opening `"`, unescaped, through the closing `"`.
    fn quoted(&mut self) -> Result<String, String> {
        let mut value = String::new();
        let mut chars = self.0.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.0 = &self.0[i + 1..];
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, other)) => return Err(format!("unknown escape \\{other}")),
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err("the value has no closing quote".into())
    }
}

#[cfg(test)]
mod tests {
    use super::{ParseError, Sample, Scrape};

    fn parse(text: &str) -> Scrape {
        Scrape::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn error(text: &str) -> ParseError {
        match Scrape::parse(text) {
            Ok(scrape) => panic!("parsed: {scrape:?}\n{text}"),
            Err(e) => e,
        }
    }

    /// The classic Prometheus text format, as the server wrote it by hand.
    const CLASSIC: &str = "\
# HELP provisio_logins_total Logins by outcome.
# TYPE provisio_logins_total counter
provisio_logins_total{outcome=\"success\"} 2
provisio_logins_total{outcome=\"denied\"} 1

# HELP provisio_login_duration_seconds Time of a login.
# TYPE provisio_login_duration_seconds histogram
provisio_login_duration_seconds_bucket{le=\"0.005\"} 1
provisio_login_duration_seconds_bucket{le=\"+Inf\"} 3
provisio_login_duration_seconds_sum 1.5
provisio_login_duration_seconds_count 3
# A comment of no meaning.
# TYPE provisio_plugin_cache_entries gauge
provisio_plugin_cache_entries 2 1700000000000
provisio_plugin_call_duration_seconds_sum{hook=\"assign\"} 0.25
provisio_plugin_call_duration_seconds_sum{hook=\"create\",} 0.5
";

    /// OpenMetrics text as `prometheus-client` writes it: counter families
    /// without `_total`, a unit, an exemplar, and `# EOF`.
    const OPEN_METRICS: &str = "\
# HELP provisio_logins Logins by outcome.
# TYPE provisio_logins counter
provisio_logins_total{outcome=\"success\"} 2 # {trace_id=\"4bf92f\"} 1.0 1700000000.250
provisio_logins_total{outcome=\"denied\"} 1
# HELP provisio_login_duration_seconds Time of a login.
# TYPE provisio_login_duration_seconds histogram
# UNIT provisio_login_duration_seconds seconds
provisio_login_duration_seconds_sum 1.5
provisio_login_duration_seconds_count 3
provisio_login_duration_seconds_bucket{le=\"0.005\"} 1
provisio_login_duration_seconds_bucket{le=\"+Inf\"} 3
# HELP provisio_plugin_cache_entries Plugins in memory.
# TYPE provisio_plugin_cache_entries gauge
provisio_plugin_cache_entries 2
provisio_plugin_call_duration_seconds_sum{hook=\"assign\"} 0.25
provisio_plugin_call_duration_seconds_sum{hook=\"create\"} 0.5
# EOF
";

    #[test]
    fn both_formats_give_the_same_samples() {
        for (format, text) in [("classic", CLASSIC), ("OpenMetrics", OPEN_METRICS)] {
            let s = parse(text);
            assert_eq!(s.open_metrics, format == "OpenMetrics", "{format}");
            assert_eq!(s.value("provisio_logins_total", &[("outcome", "success")]), Some(2.0), "{format}");
            assert_eq!(s.value("provisio_logins_total", &[("outcome", "denied")]), Some(1.0), "{format}");
            assert_eq!(s.sum("provisio_logins_total"), 3.0, "{format}");
            assert_eq!(s.value("provisio_login_duration_seconds_count", &[]), Some(3.0), "{format}");
            assert_eq!(s.value("provisio_login_duration_seconds_sum", &[]), Some(1.5), "{format}");
            let inf = s.value("provisio_login_duration_seconds_bucket", &[("le", "+Inf")]);
            assert_eq!(inf, Some(3.0), "{format}");
            assert_eq!(s.value("provisio_plugin_cache_entries", &[]), Some(2.0), "{format}");
            assert_eq!(s.value("provisio_plugin_call_duration_seconds_sum", &[("hook", "create")]), Some(0.5));
            assert_eq!(s.sum("provisio_plugin_call_duration_seconds_sum"), 0.75, "{format}");
            assert_eq!(s.samples.len(), 9, "{format}: {:?}", s.samples);
            // A counter's samples are a counter's, whether its family is
            // named with `_total` (classic) or without (OpenMetrics).
            assert_eq!(s.type_of("provisio_logins_total"), Some("counter"), "{format}");
            assert_eq!(s.type_of("provisio_login_duration_seconds_bucket"), Some("histogram"), "{format}");
            assert_eq!(s.type_of("provisio_plugin_cache_entries"), Some("gauge"), "{format}");
            assert_eq!(s.type_of("provisio_plugin_call_duration_seconds_sum"), None, "{format}: no # TYPE");
        }
        let several = [parse(CLASSIC), parse(OPEN_METRICS)];
        assert_eq!(Scrape::sum_all(&several, "provisio_logins_total"), 6.0);
    }

    #[test]
    fn labels_are_matched_exactly_in_any_order() {
        let s = parse("m{a=\"1\",b=\"2\"} 7\nm{a=\"1\"} 8\n");
        assert_eq!(s.value("m", &[("b", "2"), ("a", "1")]), Some(7.0));
        assert_eq!(s.value("m", &[("a", "1")]), Some(8.0));
        assert_eq!(s.value("m", &[]), None);
        assert_eq!(s.value("m", &[("a", "2")]), None);
        assert_eq!(s.value("n", &[]), None);
        assert_eq!(s.sum("n"), 0.0);
    }

    #[test]
    fn label_values_are_unescaped() {
        let text = r#"m{path="C:\\dir",quote="say \"hi\"",line="a\nb",hash="x # y",comma="a,b}"} 1"#;
        let s = parse(text);
        let expected = Sample {
            name: "m".into(),
            labels: [
                ("path", "C:\\dir"),
                ("quote", "say \"hi\""),
                ("line", "a\nb"),
                ("hash", "x # y"),
                ("comma", "a,b}"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .to_vec(),
            value: 1.0,
        };
        assert_eq!(s.samples, [expected]);
        assert_eq!(s.value("m", &[("quote", "say \"hi\"")]), None, "every label must match");
    }

    #[test]
    fn special_values_timestamps_and_blanks() {
        let s = parse("a +Inf\nb -Inf\nc NaN\nd 1e3 1700000000000\ne{ x = \"1\" }  -0.5\nf 3 # {} 1\n");
        let values: Vec<f64> = s.samples.iter().map(|s| s.value).collect();
        assert_eq!(values[..2], [f64::INFINITY, f64::NEG_INFINITY]);
        assert!(values[2].is_nan());
        assert_eq!(values[3..], [1000.0, -0.5, 3.0]);
        assert_eq!(s.samples[4].label("x"), Some("1"));
    }

    #[test]
    fn malformed_text_is_refused_with_its_line() {
        for (text, line, needle) in [
            ("ok 1\nm{a=\"1} 2\n", 2, "no closing quote"),
            ("m{a=\"\\t\"} 1\n", 1, "unknown escape"),
            ("m{a=1} 1\n", 1, "quoted value"),
            ("m{a=\"1\" b=\"2\"} 1\n", 1, "`,` or `}`"),
            ("m{a=\"1\",a=\"2\"} 1\n", 1, "twice"),
            ("m one\n", 1, "not a number"),
            ("m infinity\n", 1, "not a number"),
            ("m\n", 1, "no space before the value"),
            ("m 1 2 3\n", 1, "after the value"),
            ("m 1 # trace\n", 1, "exemplar"),
            ("9m 1\n", 1, "name expected"),
            ("# TYPE m thing\n", 1, "unknown type"),
            ("# TYPE\n", 1, "without a metric name"),
            ("m 1\n# EOF\nn 2\n", 3, "after `# EOF`"),
        ] {
            let e = error(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(needle), "{text:?}: {e}");
        }
    }
}
