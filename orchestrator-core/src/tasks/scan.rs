//! What a task's output says, read line by line as it passes: its final status word, its
//! `outputs_uri=` (else the first pull-request URL), and the excerpt kept in its record.
//!
//! Why a scanner: a task may print any amount before the line that matters (a status word after
//! 9,000 lines of logs), so nothing may depend on keeping the output. Memory is bounded: three
//! short strings and an excerpt of at most [`EXCERPT_LINES`] lines of at most
//! [`EXCERPT_LINE_BYTES`] bytes each.

use std::collections::VecDeque;

/// Status words a task may print on a line of its own; the last one printed wins.
pub const STATUS_WORDS: [&str; 7] = [
    "succeeded",
    "awaiting_approval",
    "failed",
    "skipped",
    "noop",
    "cancelled",
    "timed_out",
];

/// Lines of output kept in a record's `log_excerpt` (the last ones).
pub const EXCERPT_LINES: usize = 40;

/// An excerpt line longer than this (in bytes) is cut, and marked with `…`.
pub const EXCERPT_LINE_BYTES: usize = 1024;

/// Reads a task's output line by line (lines already stripped of secrets).
#[derive(Debug, Clone, Default)]
pub struct TaskOutputScan {
    status: Option<&'static str>,
    explicit_uri: Option<String>,
    first_pr: Option<String>,
    excerpt: VecDeque<String>,
}

impl TaskOutputScan {
    /// A scanner that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in one line.
    pub fn line(&mut self, line: &str) {
        let trimmed = line.trim();
        if let Some(word) = STATUS_WORDS.iter().find(|w| **w == trimmed) {
            self.status = Some(word);
        }
        if let Some(uri) = trimmed.strip_prefix("outputs_uri=").map(str::trim)
            && !uri.is_empty()
        {
            self.explicit_uri = Some(uri.to_owned());
        }
        if self.first_pr.is_none() {
            self.first_pr = pull_request_url(line);
        }
        if self.excerpt.len() == EXCERPT_LINES {
            self.excerpt.pop_front();
        }
        self.excerpt.push_back(cut(line, EXCERPT_LINE_BYTES));
    }

    /// The task's final status: the last status word it printed on a line of its own; a
    /// non-zero exit is `failed` whatever it printed; otherwise `succeeded`.
    pub fn status(&self, success: bool) -> String {
        if !success {
            return "failed".into();
        }
        self.status.unwrap_or("succeeded").to_owned()
    }

    /// The last `outputs_uri=` it printed, else the first pull-request URL.
    pub fn outputs_uri(&self) -> Option<String> {
        self.explicit_uri.clone().or_else(|| self.first_pr.clone())
    }

    /// The last lines, joined with newlines.
    pub fn excerpt(&self) -> String {
        Vec::from(self.excerpt.clone()).join("\n")
    }
}

/// The first `http(s)://.../pull/N` word of `line`.
fn pull_request_url(line: &str) -> Option<String> {
    line.split_whitespace().find_map(|word| {
        let start = word.find("http")?;
        let url = word[start..].trim_end_matches(['.', ',', ')', ']', '"', '\'', '>']);
        let is_url = url.starts_with("https://") || url.starts_with("http://");
        let (_, number) = url.rsplit_once("/pull/")?;
        (is_url && !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()))
            .then(|| url.to_owned())
    })
}

/// `line` cut to at most `max` bytes on a character boundary, `…` marking a cut.
fn cut(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_owned();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excerpt_keeps_the_last_lines_each_cut_to_a_bound() {
        let mut scan = TaskOutputScan::new();
        for i in 0..100 {
            scan.line(&format!("line {i}"));
        }
        scan.line(&"é".repeat(EXCERPT_LINE_BYTES));
        let excerpt = scan.excerpt();
        let lines: Vec<&str> = excerpt.lines().collect();
        assert_eq!(lines.len(), EXCERPT_LINES);
        assert_eq!(lines[0], "line 61");
        let last = lines[EXCERPT_LINES - 1];
        assert!(last.ends_with('…') && last.len() <= EXCERPT_LINE_BYTES + '…'.len_utf8());
    }

    #[test]
    fn a_status_word_and_a_link_are_found_after_any_number_of_lines() {
        let mut scan = TaskOutputScan::new();
        scan.line("first https://github.com/o/r/pull/1 wins among plain links");
        for i in 0..50_000 {
            scan.line(&format!("log {i}"));
        }
        assert_eq!(
            scan.outputs_uri().as_deref(),
            Some("https://github.com/o/r/pull/1")
        );
        scan.line("outputs_uri=https://github.com/o/r/pull/7");
        scan.line("  awaiting_approval ");
        assert_eq!(scan.status(true), "awaiting_approval");
        assert_eq!(scan.status(false), "failed");
        assert_eq!(
            scan.outputs_uri().as_deref(),
            Some("https://github.com/o/r/pull/7")
        );
    }
}
