//! Plain-text tables for humans: left-aligned columns padded to their widest cell, and the table of tasks that ends
//! `cutover run`.

use crate::progress::snake;
use cutover_integrations_core::DriveReport;
use cutover_integrations_core::model::TaskStage;
use jiff::Timestamp;

/// Writes `rows` under `header` as aligned columns, one line per row; the last column is not padded.
///
/// Cells come from data (names, reasons), so their control characters, newlines included, are escaped first.
pub(crate) fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| crate::terminal::printable_inline(cell).into_owned()).collect())
        .collect();
    let rows = rows.as_slice();
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|title| (*title).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if index + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.chars().count())));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// The table of every task at the end of a run, then one line that sums it up.
pub(crate) fn drive_report(report: &DriveReport) -> String {
    let rows: Vec<Vec<String>> = report
        .tasks
        .iter()
        .map(|task| {
            vec![
                task.id.clone(),
                task.name.clone(),
                snake(&task.stage),
                snake(&task.integration_status),
                duration(task.started_at, task.ended_at),
                task.reason.clone().unwrap_or_default().replace('\n', " "),
            ]
        })
        .collect();
    let mut text = render(&["TASK", "NAME", "STAGE", "INTEGRATION", "DURATION", "REASON"], &rows);
    let complete = report.tasks.iter().filter(|task| task.stage == TaskStage::Complete).count();
    let verdict = if report.succeeded() { "complete" } else { "not complete" };
    text.push_str(&format!(
        "\nrunbook {}: {verdict} ({} of {} tasks complete; runbook stage {})\n",
        report.runbook,
        complete,
        report.tasks.len(),
        snake(&report.stage)
    ));
    text
}

/// How long a task took, for humans: `85ms`, `1.2s`, `3m07s`; `-` when it has not both started and ended.
pub(crate) fn duration(started: Option<Timestamp>, ended: Option<Timestamp>) -> String {
    let (Some(started), Some(ended)) = (started, ended) else { return "-".to_owned() };
    let millis = ended.duration_since(started).as_millis().max(0);
    match millis {
        0..1_000 => format!("{millis}ms"),
        1_000..60_000 => format!("{:.1}s", millis as f64 / 1_000.0),
        _ => format!("{}m{:02}s", millis / 60_000, (millis % 60_000) / 1_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_and_lines_not_padded() {
        let rows = vec![
            vec!["announce".to_owned(), "complete".to_owned(), String::new()],
            vec!["a".to_owned(), "in_progress".to_owned(), "HTTP 500".to_owned()],
        ];
        assert_eq!(
            render(&["TASK", "STAGE", "REASON"], &rows),
            "TASK      STAGE        REASON\nannounce  complete\na         in_progress  HTTP 500\n"
        );
    }

    #[test]
    fn durations_for_humans() {
        let at = |millis: i64| Some(Timestamp::from_millisecond(millis).expect("a timestamp"));
        let cases = [
            (at(0), at(85), "85ms"),
            (at(0), at(1_240), "1.2s"),
            (at(0), at(187_000), "3m07s"),
            (at(0), None, "-"),
            (None, None, "-"),
        ];
        for (started, ended, expected) in cases {
            assert_eq!(duration(started, ended), expected, "{started:?} {ended:?}");
        }
    }
}
