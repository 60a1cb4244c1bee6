//! One workflow's page: prospect, timeline, draft, task, errors, audit.

use std::fmt::Write as _;

use formlead_core::domain::{StepName, StepStatus, WorkflowStatus};
use formlead_core::html::escape_html as esc;
use formlead_core::orchestrator::WorkflowDetail;

use super::{badge, draft_actions, draft_badge, ms, time};

/// One workflow: prospect, timeline, draft, task, errors, audit.
pub fn page(d: &WorkflowDetail) -> String {
    let w = &d.workflow;
    let mut out = String::new();
    let retry = if w.status == WorkflowStatus::Failed {
        format!(
            " <button type=\"button\" data-action=\"retry\" data-id=\"{}\">Retry workflow</button>",
            w.id
        )
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<p><a href=\"/dashboard\">← All leads</a></p><h1>{} {}</h1><p class=\"muted\">Workflow <code>{}</code> · received {} · attempts {}{}</p>{retry}",
        esc(&w.prospect_email),
        badge(w.status),
        w.id,
        time(Some(w.created_at)),
        w.attempts,
        w.last_error
            .as_deref()
            .map(|e| format!(" · last error: {}", esc(e)))
            .unwrap_or_default()
    );

    // Prospect and message.
    if let Some(s) = &d.submission {
        let field = |k: &str| esc(s.field(k).unwrap_or("—"));
        let _ = write!(
            out,
            "<section aria-labelledby=\"p\"><h2 id=\"p\">Prospect</h2><dl class=\"facts\"><dt>Name</dt><dd>{} {}</dd><dt>Company</dt><dd>{}</dd>\
             <dt>Email</dt><dd>{}</dd><dt>Form</dt><dd>{}</dd></dl><h3>Message</h3><blockquote class=\"message\">{}</blockquote></section>",
            field("firstname"),
            field("lastname"),
            field("company"),
            esc(s.email()),
            esc(s.page_url.as_deref().unwrap_or("—")),
            field("message")
        );
    }

    // Repeat submissions this reply answers.
    if !d.linked_submissions.is_empty() {
        let mut rows = String::new();
        for l in &d.linked_submissions {
            let _ = write!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                time(Some(l.linked_at)),
                esc(l.submission.form_id.as_deref().unwrap_or("—")),
                esc(l.submission.field("message").unwrap_or("—")),
                match (&l.applied_at, &l.note_id) {
                    (Some(at), note) => format!(
                        "answered in the draft {} (CRM note {})",
                        time(Some(*at)),
                        esc(note.as_deref().unwrap_or("—"))
                    ),
                    (None, _) => "<span class=\"badge wait\">updating the draft</span>".to_owned(),
                }
            );
        }
        let _ = write!(
            out,
            "<section aria-labelledby=\"ls\"><h2 id=\"ls\">Linked submissions ({})</h2>\
             <p class=\"muted\">The prospect submitted again while this reply was open: one reply answers every ask.</p>\
             <table><thead><tr><th scope=\"col\">Received</th><th scope=\"col\">Form</th><th scope=\"col\">Message</th><th scope=\"col\">In the reply</th></tr></thead><tbody>{rows}</tbody></table></section>",
            d.linked_submissions.len()
        );
    }

    // Timeline of the 13 steps.
    let mut steps = String::new();
    for name in StepName::ALL {
        let rec = d.steps.iter().find(|s| s.step == *name);
        let (class, status, took, text) = match rec {
            Some(r) => (
                step_class(r.status),
                r.status.as_str(),
                r.duration_ms().map_or_else(|| "—".to_owned(), ms),
                r.summary
                    .clone()
                    .or_else(|| r.error.clone())
                    .unwrap_or_default(),
            ),
            None => ("pending", "pending", "—".to_owned(), String::new()),
        };
        let _ = write!(
            steps,
            "<li class=\"step {class}\"><span class=\"num\">{}</span> <strong>{}</strong> <span class=\"badge {class}\">{status}</span> <span class=\"dur\">{took}</span><div class=\"sum\">{}</div></li>",
            name.number(),
            name.as_str(),
            esc(&text)
        );
    }
    let _ = write!(
        out,
        "<section aria-labelledby=\"t\"><h2 id=\"t\">Timeline</h2>{}<ol class=\"timeline\">{steps}</ol></section>",
        duration_bar(&d.steps)
    );

    // Drafts.
    for draft in &d.drafts {
        let _ = write!(
            out,
            "<section aria-labelledby=\"d-{id}\" class=\"draft\"><h2 id=\"d-{id}\">Draft {}</h2><dl class=\"facts\"><dt>To</dt><dd>{}</dd><dt>Subject</dt><dd>{}</dd>\
             <dt>Mailbox draft</dt><dd>{}</dd>{}</dl>{}\
             <h3>HTML</h3><iframe class=\"preview\" title=\"HTML preview of the draft\" sandbox=\"\" referrerpolicy=\"no-referrer\" srcdoc=\"{}\"></iframe>\
             <details><summary>Plain text</summary><pre>{}</pre></details></section>",
            draft_badge(draft.status),
            esc(&draft.to_email),
            esc(&draft.subject),
            esc(draft.external_id.as_deref().unwrap_or("—")),
            match (&draft.decided_by, &draft.reject_reason) {
                (Some(by), Some(reason)) =>
                    format!("<dt>Rejected by</dt><dd>{} — {}</dd>", esc(by), esc(reason)),
                (Some(by), None) => format!("<dt>Decided by</dt><dd>{}</dd>", esc(by)),
                _ => String::new(),
            },
            draft_actions(draft),
            esc(&draft.body_html),
            esc(&draft.body_text),
            id = draft.id
        );
    }

    // CRM task.
    for t in &d.tasks {
        let _ = write!(
            out,
            "<section aria-labelledby=\"k\"><h2 id=\"k\">CRM task</h2><dl class=\"facts\"><dt>Subject</dt><dd>{}</dd><dt>Due</dt><dd>{}</dd><dt>Priority</dt><dd>{}</dd><dt>CRM id</dt><dd>{}</dd></dl><pre>{}</pre></section>",
            esc(&t.subject),
            time(Some(t.due_at)),
            t.priority.as_str(),
            esc(&t.external_id),
            esc(&t.body)
        );
    }

    // Errors.
    if !d.errors.is_empty() {
        let mut rows = String::new();
        for e in &d.errors {
            let _ = write!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.attempt,
                e.step.map_or("—", |s| s.as_str()),
                e.kind.as_str(),
                esc(&e.message),
                time(e.retry_at),
                time(Some(e.created_at))
            );
        }
        let _ = write!(
            out,
            "<section aria-labelledby=\"e\"><h2 id=\"e\">Errors</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">Attempt</th><th scope=\"col\">Step</th><th scope=\"col\">Kind</th><th scope=\"col\">Message</th><th scope=\"col\">Retry at</th><th scope=\"col\">At</th></tr></thead><tbody>{rows}</tbody></table></div></section>"
        );
    }

    // Audit trail.
    let mut rows = String::new();
    for a in &d.audit {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            time(Some(a.created_at)),
            esc(&a.actor),
            esc(&a.action),
            esc(&a.detail.to_string())
        );
    }
    let _ = write!(
        out,
        "<section aria-labelledby=\"a\"><h2 id=\"a\">Audit trail</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">At</th><th scope=\"col\">Who</th><th scope=\"col\">What</th><th scope=\"col\">Detail</th></tr></thead><tbody>{rows}</tbody></table></div></section>"
    );
    out
}

/// The colour class of a step's status (timeline and duration bar).
fn step_class(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Completed => "ok",
        StepStatus::Failed => "bad",
        StepStatus::Running | StepStatus::Degraded => "wait",
    }
}

/// Where the workflow's time went: one bar, a segment per finished step
/// in proportion to its duration (server-rendered SVG).
pub fn duration_bar(steps: &[formlead_core::domain::StepRecord]) -> String {
    let mut timed: Vec<(&formlead_core::domain::StepRecord, i64)> = steps
        .iter()
        .filter_map(|s| s.duration_ms().map(|took| (s, took.max(0))))
        .collect();
    let total: i64 = timed.iter().map(|(_, took)| took).sum();
    if timed.is_empty() || total == 0 {
        return String::new();
    }
    timed.sort_by_key(|(s, _)| s.step.number());
    let mut x = 0.0_f64;
    let mut segments = String::new();
    for (s, took) in &timed {
        let w = *took as f64 / total as f64 * 1000.0;
        let class = step_class(s.status);
        let _ = write!(
            segments,
            "<rect class=\"seg {class} s{}\" x=\"{x:.1}\" y=\"0\" width=\"{w:.1}\" height=\"18\"><title>{}. {}: {}</title></rect>",
            s.step.number() % 2,
            s.step.number(),
            s.step.as_str(),
            ms(*took)
        );
        x += w;
    }
    let (slowest, slowest_ms) = timed
        .iter()
        .max_by_key(|(_, took)| *took)
        .map(|(s, took)| (s.step.as_str(), *took))
        .unwrap_or(("", 0));
    format!(
        "<figure class=\"durations\"><svg viewBox=\"0 0 1000 18\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"Step durations: {} in all, the longest {slowest} ({})\">{segments}</svg>\
         <figcaption>{} in all; the longest step: {slowest} ({})</figcaption></figure>",
        ms(total),
        ms(slowest_ms),
        ms(total),
        ms(slowest_ms)
    )
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use formlead_core::domain::{StepName, StepRecord, StepStatus, WorkflowId};

    use super::duration_bar;

    #[test]
    fn the_duration_bar_shares_the_time_out_by_step() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap();
        let step = |step, ms| StepRecord {
            workflow_id: WorkflowId::new(),
            step,
            status: StepStatus::Completed,
            attempt: 1,
            started_at: t0,
            finished_at: Some(t0 + chrono::Duration::milliseconds(ms)),
            summary: None,
            output: None,
            error: None,
        };
        let bar = duration_bar(&[
            step(StepName::CreateMailDraft, 750),
            step(StepName::ValidateSubmission, 250),
        ]);
        assert_eq!(bar.matches("<rect").count(), 2);
        assert!(
            bar.contains("width=\"250.0\"") && bar.contains("width=\"750.0\""),
            "{bar}"
        );
        assert!(bar.contains("the longest step: create_mail_draft"), "{bar}");
        assert_eq!(duration_bar(&[]), "");
    }
}
