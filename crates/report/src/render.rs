//! Tabular output in the four formats every curwatch command offers.

use std::fmt::Write as _;
use std::str::FromStr;

use curwatch_schema::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Csv,
    Json,
    Markdown,
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            "json" => Ok(OutputFormat::Json),
            "markdown" | "md" => Ok(OutputFormat::Markdown),
            other => Err(format!("unknown format `{other}`; choose table, csv, json or markdown")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(Option<String>),
    Money(Money),
    Integer(i64),
    /// A quantity (units of usage).
    Number(f64),
    /// A percentage; `None` where it is undefined (nothing to compare with).
    Percent(Option<f64>),
}

impl Cell {
    fn is_numeric(&self) -> bool {
        !matches!(self, Cell::Text(_))
    }

    /// For people: money rounded to cents, missing text as `(none)`.
    fn human(&self) -> String {
        match self {
            Cell::Text(Some(t)) => t.clone(),
            Cell::Text(None) => "(none)".to_owned(),
            Cell::Money(m) => m.to_display_string(),
            Cell::Integer(i) => i.to_string(),
            Cell::Number(n) => format_number(*n),
            Cell::Percent(Some(p)) => format!("{p:+.1}%"),
            Cell::Percent(None) => "new".to_owned(),
        }
    }

    /// For machines: exact money, missing text empty.
    fn exact(&self) -> String {
        match self {
            Cell::Text(t) => t.clone().unwrap_or_default(),
            Cell::Money(m) => m.to_exact_string(),
            Cell::Integer(i) => i.to_string(),
            Cell::Number(n) => n.to_string(),
            Cell::Percent(Some(p)) => format!("{p:.2}"),
            Cell::Percent(None) => String::new(),
        }
    }

    fn json(&self) -> String {
        match self {
            Cell::Text(None) => "null".to_owned(),
            Cell::Text(Some(t)) => serde_json::to_string(t).expect("strings serialise"),
            Cell::Money(m) => m.to_exact_string(),
            Cell::Integer(i) => i.to_string(),
            Cell::Number(n) if n.is_finite() => n.to_string(),
            Cell::Percent(Some(p)) if p.is_finite() => format!("{p:.2}"),
            Cell::Number(_) | Cell::Percent(_) => "null".to_owned(),
        }
    }
}

/// Large quantities with thousands separators, small ones with a few decimals.
fn format_number(n: f64) -> String {
    if n.abs() >= 1000.0 {
        let whole = format!("{:.0}", n.abs());
        let mut grouped = String::new();
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        format!("{}{grouped}", if n < 0.0 { "-" } else { "" })
    } else {
        let text = format!("{n:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Rows under named columns; an optional total row shown to people only.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub total: Option<Vec<Cell>>,
}

impl Table {
    pub fn render(&self, format: OutputFormat) -> String {
        match format {
            OutputFormat::Table => self.text_table(),
            OutputFormat::Csv => self.csv(),
            OutputFormat::Json => self.json(),
            OutputFormat::Markdown => self.markdown(),
        }
    }

    fn human_rows(&self) -> Vec<Vec<String>> {
        self.rows.iter().chain(self.total.iter()).map(|r| r.iter().map(Cell::human).collect()).collect()
    }

    fn numeric_columns(&self) -> Vec<bool> {
        (0..self.headers.len())
            .map(|i| self.rows.first().or(self.total.as_ref()).is_some_and(|r| r.get(i).is_some_and(Cell::is_numeric)))
            .collect()
    }

    fn text_table(&self) -> String {
        let rows = self.human_rows();
        let numeric = self.numeric_columns();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                rows.iter().map(|r| r[i].chars().count()).chain([self.headers[i].chars().count()]).max().unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| -> String {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                let pad = widths[i] - cell.chars().count();
                if numeric[i] {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                } else {
                    out.push_str(cell);
                    if i + 1 < cells.len() {
                        out.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.trim_end().to_owned() + "\n"
        };
        let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        let mut out = line(&self.headers);
        out.push_str(&line(&rule));
        let body = self.rows.len();
        for (i, row) in rows.iter().enumerate() {
            if i == body {
                out.push_str(&line(&rule));
            }
            out.push_str(&line(row));
        }
        out
    }

    fn csv(&self) -> String {
        // Written straight into one buffer: a report of tens of thousands of rows costs no
        // allocation per cell.
        let mut out = String::new();
        let put = |field: &str, out: &mut String| {
            if field.contains([',', '"', '\n', '\r']) {
                out.push('"');
                out.push_str(&field.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(field);
            }
        };
        for (i, header) in self.headers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            put(header, &mut out);
        }
        out.push('\n');
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match cell {
                    Cell::Text(text) => put(text.as_deref().unwrap_or_default(), &mut out),
                    // Digits, a sign and a point: nothing to quote.
                    Cell::Money(money) => money.write_exact(&mut out),
                    other => put(&other.exact(), &mut out),
                }
            }
            out.push('\n');
        }
        out
    }

    fn json(&self) -> String {
        let mut out = String::from("[");
        for (i, row) in self.rows.iter().enumerate() {
            out.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
            for (j, (header, cell)) in self.headers.iter().zip(row).enumerate() {
                if j > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{}: {}", serde_json::to_string(header).expect("serialises"), cell.json());
            }
            out.push('}');
        }
        out.push_str(if self.rows.is_empty() { "]\n" } else { "\n]\n" });
        out
    }

    fn markdown(&self) -> String {
        let numeric = self.numeric_columns();
        let escape = |s: &str| s.replace('|', "\\|");
        let mut out = format!("| {} |\n", self.headers.iter().map(|h| escape(h)).collect::<Vec<_>>().join(" | "));
        let align: Vec<&str> = numeric.iter().map(|n| if *n { "---:" } else { "---" }).collect();
        let _ = writeln!(out, "| {} |", align.join(" | "));
        let body = self.rows.len();
        for (i, row) in self.human_rows().into_iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .map(|c| if i == body && !c.is_empty() { format!("**{}**", escape(c)) } else { escape(c) })
                .collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table {
            headers: vec!["service".into(), "cost".into()],
            rows: vec![
                vec![Cell::Text(Some("Amazon, \"EC2\"".into())), Cell::Money("1234.5".parse().unwrap())],
                vec![Cell::Text(None), Cell::Money("0.0000035".parse().unwrap())],
            ],
            total: Some(vec![Cell::Text(Some("total".into())), Cell::Money("1234.5000035".parse().unwrap())]),
        }
    }

    #[test]
    fn csv_is_exact_and_escaped_without_total() {
        assert_eq!(sample().render(OutputFormat::Csv), "service,cost\n\"Amazon, \"\"EC2\"\"\",1234.50\n,0.0000035\n");
    }

    #[test]
    fn json_keeps_column_order_and_nulls() {
        let json = sample().render(OutputFormat::Json);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[1]["service"], serde_json::Value::Null);
        assert_eq!(parsed[0]["cost"].as_f64(), Some(1234.5));
        assert!(json.find("\"service\"").unwrap() < json.find("\"cost\"").unwrap());
        assert_eq!(Table { headers: vec!["a".into()], ..Table::default() }.render(OutputFormat::Json), "[]\n");
    }

    #[test]
    fn table_and_markdown_are_for_people() {
        let text = sample().render(OutputFormat::Table);
        assert!(text.contains("1,234.50") && text.contains("(none)") && text.contains("total"), "{text}");
        let md = sample().render(OutputFormat::Markdown);
        assert!(md.starts_with("| service | cost |\n| --- | ---: |\n"), "{md}");
        assert!(md.contains("| **total** | **1,234.50** |"), "{md}");
    }
}
