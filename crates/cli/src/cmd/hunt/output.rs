//! Detection output: aligned table, JSON array, JSON lines, CSV.
//!
//! Every text cell came from input (rule titles, log fields, host and file
//! names) and is escaped ([`crate::term`]) before it is written: the table
//! and CSV show control characters as visible escapes, and JSON escapes
//! them as `\uXXXX`.

use std::io::{self, BufWriter, Write};

use detect::Detection;
use engine::Detections;
use time::format_description::well_known::Rfc3339;

use crate::term;

/// How detections are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header row.
    Csv,
}

/// Widest a table column gets before it is cut.
const COLUMN_MAX: usize = 60;

/// Prints every detection to stdout, one at a time: a run's detections
/// may be partly on disk (see [`engine::Detections`]).
pub fn print(detections: &Detections, format: OutputFormat) -> io::Result<()> {
    let stdout = io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    let each = || detections.iter().map(|d| d.map_err(io::Error::other));
    match format {
        OutputFormat::Json => {
            // The bytes of one JSON array, written element by element.
            w.write_all(b"[")?;
            for (i, d) in each().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                term::json::to_writer(&mut w, &d?)?;
            }
            w.write_all(b"]")?;
            writeln!(w)?;
        }
        OutputFormat::Jsonl => {
            for d in each() {
                term::json::to_writer(&mut w, &d?)?;
                writeln!(w)?;
            }
        }
        OutputFormat::Csv => write_csv(&mut w, each())?,
        OutputFormat::Table => write_table(&mut w, each)?,
    }
    w.flush()
}

fn time_text(d: &Detection) -> String {
    d.timestamp
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}

/// The policy item, entities and fields as `key=value` pairs on one line,
/// not yet escaped.
fn fields_text(d: &Detection) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(p) = d.policy {
        parts.push(format!("policy={p}"));
    }
    parts.extend(d.entities.iter().map(|(k, v)| format!("{k}={v}")));
    parts.extend(d.fields.iter().map(|(k, v)| format!("{k}={v}")));
    parts.join(" ").replace(['\n', '\r', '\t'], " ")
}

/// `s` cut to `max` characters, then escaped for the terminal.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", term::line(&s[..i])),
        None => term::line(s).into_owned(),
    }
}

/// One table row of a detection.
fn table_row(d: &Detection) -> [String; 6] {
    [
        time_text(d),
        d.level.to_string(),
        cut(&d.rule_title, COLUMN_MAX),
        cut(d.host.as_deref().unwrap_or("-"), COLUMN_MAX),
        cut(&format!("{}:{}", d.file, d.record), COLUMN_MAX),
        term::line(&fields_text(d)).into_owned(),
    ]
}

/// The aligned table: one pass over the detections for the column widths,
/// a second to print, so no more than one row is held at a time.
fn write_table<I: Iterator<Item = io::Result<Detection>>>(
    w: &mut impl Write,
    each: impl Fn() -> I,
) -> io::Result<()> {
    let header = ["TIME", "LEVEL", "RULE", "HOST", "FILE", "FIELDS"];
    let mut widths = header.map(|h| h.chars().count());
    for d in each() {
        let row = table_row(&d?);
        for (i, cell) in row.iter().enumerate().take(5) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |w: &mut dyn Write, cells: [&str; 6]| -> io::Result<()> {
        for (i, cell) in cells.iter().enumerate().take(5) {
            write!(w, "{cell:<width$}  ", width = widths[i])?;
        }
        writeln!(w, "{}", cells[5])
    };
    line(w, header)?;
    for d in each() {
        let row = table_row(&d?);
        line(w, [&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]])?;
    }
    Ok(())
}

/// One CSV cell: control characters escaped as in the table (so no cell
/// spans lines or carries a terminal sequence), then quoted when it holds
/// a comma or a quote.
fn csv_cell(s: &str) -> String {
    let s = term::line(s);
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

fn write_csv(
    w: &mut impl Write,
    detections: impl Iterator<Item = io::Result<Detection>>,
) -> io::Result<()> {
    writeln!(
        w,
        "timestamp,level,rule_id,rule_title,host,file,record,policy,fields"
    )?;
    for d in detections {
        let d = &d?;
        let cells = [
            d.timestamp
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default(),
            d.level.to_string(),
            d.rule_id.clone(),
            d.rule_title.clone(),
            d.host.clone().unwrap_or_default(),
            d.file.to_string(),
            d.record.to_string(),
            d.policy.unwrap_or_default().to_string(),
            fields_text(d),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        writeln!(w, "{}", line.join(","))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_escape_controls_and_quote_commas_and_quotes() {
        let cases = [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines\r", "two\\nlines\\r"),
            ("\u{1b}]52;c;eA==\u{7},x", "\"\\x1b]52;c;eA==\\x07,x\""),
            ("Zürich \u{202e}", "Zürich \\u{202e}"),
        ];
        for (cell, want) in cases {
            assert_eq!(csv_cell(cell), want, "{cell:?}");
        }
    }
}
