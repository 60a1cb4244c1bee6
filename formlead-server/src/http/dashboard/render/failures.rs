//! Failures by step: which of the 13 steps failed today, how often it was
//! retried and how often it ended a workflow.

use std::fmt::Write as _;

use formlead_core::domain::StepName;
use formlead_core::ports::StepFailures;

/// "10. create mail draft".
pub fn step_label(step: StepName) -> String {
    format!("{}. {}", step.number(), step.as_str().replace('_', " "))
}

/// The table (or a line saying nothing failed).
pub fn failures_by_step(failures: &[StepFailures]) -> String {
    const HEAD: &str = "<section class=\"failures\" aria-labelledby=\"fs\"><h2 id=\"fs\">Failures by step today</h2>";
    if failures.is_empty() {
        return format!("{HEAD}<p class=\"empty\">No failed attempts today.</p></section>");
    }
    let mut rows = String::new();
    for f in failures {
        // A step leads to the workflows that failed there today.
        let step = f.step.map_or_else(
            || "outside a step".to_owned(),
            |s| {
                format!(
                    "<a href=\"/dashboard?failed_step={}\">{}</a>",
                    s.as_str(),
                    step_label(s)
                )
            },
        );
        let class = if f.dead_lettered > 0 { "bad" } else { "wait" };
        // Dead letters lead to the failed workflows, each with its errors.
        let dead = if f.dead_lettered > 0 {
            let at = f
                .step
                .map_or_else(String::new, |s| format!("&amp;failed_step={}", s.as_str()));
            format!(
                "<a href=\"/dashboard?status=failed{at}\" aria-label=\"{n} dead letter(s): show them\">{n}</a>",
                n = f.dead_lettered
            )
        } else {
            "0".to_owned()
        };
        let _ = write!(
            rows,
            "<tr class=\"{class}\"><th scope=\"row\">{step}</th><td>{}</td><td>{dead}</td><td>{}</td></tr>",
            f.retried,
            // Today's: the time of day says it.
            format_args!(
                "<time datetime=\"{}\">{}</time>",
                f.last_at.to_rfc3339(),
                f.last_at.format("%H:%M:%S")
            )
        );
    }
    format!(
        "{HEAD}<table><thead><tr><th scope=\"col\">Step</th><th scope=\"col\">Retried</th>\
         <th scope=\"col\" title=\"Failed attempts that ended their workflow\">Dead letters</th><th scope=\"col\">Last</th></tr></thead>\
         <tbody>{rows}</tbody></table></section>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn each_failing_step_is_a_row_with_its_counts() {
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 9, 30, 0).unwrap();
        let html = failures_by_step(&[
            StepFailures {
                step: Some(StepName::CreateMailDraft),
                retried: 4,
                dead_lettered: 0,
                last_at: at,
            },
            StepFailures {
                step: None,
                retried: 0,
                dead_lettered: 2,
                last_at: at,
            },
        ]);
        assert!(
            html.contains("<tr class=\"wait\"><th scope=\"row\"><a href=\"/dashboard?failed_step=create_mail_draft\">10. create mail draft</a></th><td>4</td><td>0</td>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr class=\"bad\"><th scope=\"row\">outside a step</th><td>0</td><td><a href=\"/dashboard?status=failed\""
            ),
            "{html}"
        );
        assert!(html.contains(">09:30:00</time>"), "{html}");
        assert!(failures_by_step(&[]).contains("No failed attempts today."));
    }
}
