//! HTML for the dashboard. Everything that comes from a form, a vendor or
//! the database goes through `esc`. One workflow's page is in `workflow`.

pub mod chart;
pub mod failures;
pub mod workflow;

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use formlead_core::agents::{Tone, VoiceProfile};
use formlead_core::domain::{DraftEmail, DraftStatus, WorkflowStatus, WorkflowSummary};
use formlead_core::html::escape_html as esc;
use formlead_core::ports::{Page, WorkflowFilter, WorkflowStats};

/// The page shell.
pub fn layout(title: &str, csrf: Option<&str>, operator: Option<&str>, body: &str) -> String {
    let csrf_meta = csrf
        .map(|t| format!("<meta name=\"csrf-token\" content=\"{}\">", esc(t)))
        .unwrap_or_default();
    let who = match operator {
        Some(name) => format!(
            "<form method=\"post\" action=\"/dashboard/logout\" class=\"logout\"><span>Signed in as {}</span> <button type=\"submit\" class=\"link\">Sign out</button></form>",
            esc(name)
        ),
        None => String::new(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · formlead</title>{csrf_meta}<link rel=\"stylesheet\" href=\"/dashboard/assets/app.css\"></head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"top\"><a class=\"brand\" href=\"/dashboard\">formlead</a>{who}</header>\
         <main id=\"main\">{body}</main><div id=\"flash\" role=\"status\" aria-live=\"polite\"></div>\
         <script src=\"/dashboard/assets/app.js\" defer></script></body></html>",
        title = esc(title)
    )
}

fn status_class(s: WorkflowStatus) -> &'static str {
    match s {
        WorkflowStatus::Completed => "ok",
        WorkflowStatus::Failed => "bad",
        WorkflowStatus::Triggered
        | WorkflowStatus::Processing
        | WorkflowStatus::Retrying
        | WorkflowStatus::AwaitingApproval => "wait",
    }
}

pub(super) fn badge(s: WorkflowStatus) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        status_class(s),
        esc(&s.as_str().replace('_', " "))
    )
}

pub(super) fn draft_badge(s: DraftStatus) -> String {
    let class = match s {
        DraftStatus::Sent | DraftStatus::Approved => "ok",
        DraftStatus::Rejected => "bad",
        DraftStatus::PendingApproval => "wait",
    };
    format!(
        "<span class=\"badge {class}\">{}</span>",
        esc(&s.as_str().replace('_', " "))
    )
}

pub(super) fn time(t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => format!(
            "<time datetime=\"{}\">{}</time>",
            t.to_rfc3339(),
            t.format("%b %-d, %H:%M:%S")
        ),
        None => "—".to_owned(),
    }
}

pub(super) fn ms(v: i64) -> String {
    if v < 1_000 {
        format!("{v} ms")
    } else if v < 120_000 {
        format!("{:.1} s", v as f64 / 1e3)
    } else {
        format!("{:.1} min", v as f64 / 60e3)
    }
}

/// p in 0..=1 of unsorted values.
fn percentile(values: &[i64], p: f64) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        return None;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i.min(v.len() - 1)).copied()
}

/// The four summary tiles.
pub fn tiles(stats: &WorkflowStats) -> String {
    let failed = stats
        .by_status
        .iter()
        .find(|(s, _)| *s == WorkflowStatus::Failed)
        .map_or(0, |(_, n)| *n);
    let median = percentile(&stats.draft_latencies_ms, 0.5).map_or_else(|| "—".to_owned(), ms);
    let p95 = percentile(&stats.draft_latencies_ms, 0.95).map_or_else(|| "—".to_owned(), ms);
    let retry_all = if failed > 0 {
        " <button type=\"button\" data-action=\"retry-failed\">Retry all failed</button>"
    } else {
        ""
    };
    format!(
        "<section class=\"tiles\" aria-label=\"Summary\">\
         <div class=\"tile\"><span class=\"n\">{}</span><span class=\"l\">leads today</span></div>\
         <div class=\"tile\"><span class=\"n\">{median}</span><span class=\"l\">median to draft (p95 {p95})</span></div>\
         <div class=\"tile wait\"><span class=\"n\">{}</span><span class=\"l\">awaiting approval</span></div>\
         <div class=\"tile bad\"><span class=\"n\">{failed}</span><span class=\"l\">failed</span>{retry_all}</div></section>",
        stats.created_since, stats.drafts_pending
    )
}

/// One vendor budget as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct BudgetUse {
    pub label: String,
    /// How long a call made now would wait.
    pub backlog: std::time::Duration,
    pub rate_per_sec: f64,
}

/// The vendor budgets: how far behind each one is (idle, or how long a
/// new call waits), with its sustained rate.
pub fn budget_tile(budgets: &[BudgetUse]) -> String {
    if budgets.is_empty() {
        return "<section class=\"budgets muted\" aria-label=\"Vendor budgets\">Vendor budgets: none in use (sandbox adapters)</section>".to_owned();
    }
    let items: Vec<String> = budgets
        .iter()
        .map(|b| {
            let (class, state) = if b.backlog.as_millis() < 100 {
                ("ok", "idle".to_owned())
            } else {
                ("wait", format!("busy: a new call waits {:.1} s", b.backlog.as_secs_f64()))
            };
            format!(
                "<span class=\"budget {class}\"><strong>{}</strong> {state} <span class=\"muted\">({} /s)</span></span>",
                esc(&b.label),
                rate(b.rate_per_sec)
            )
        })
        .collect();
    format!(
        "<section class=\"budgets\" aria-label=\"Vendor budgets\">Vendor budgets: {}</section>",
        items.join(" · ")
    )
}

fn rate(per_sec: f64) -> String {
    if per_sec >= 10.0 {
        format!("{per_sec:.0}")
    } else {
        format!("{per_sec:.1}")
    }
}

/// The filter form (plain GET, so filters live in the URL).
pub fn filters(filter: &WorkflowFilter) -> String {
    let mut options = String::from("<option value=\"\">all</option>");
    for s in WorkflowStatus::ALL {
        let sel = if filter.status == Some(*s) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            options,
            "<option value=\"{}\"{sel}>{}</option>",
            s.as_str(),
            s.as_str().replace('_', " ")
        );
    }
    // From a row of the failures by step: kept while filtering further.
    let failed_at = filter.failed_at.map_or_else(String::new, |f| {
        format!(
            "<input type=\"hidden\" name=\"failed_step\" value=\"{}\"><span class=\"chip\">Failed at step {} today</span>",
            f.step.as_str(),
            esc(&failures::step_label(f.step))
        )
    });
    format!(
        "<form class=\"filters\" method=\"get\" action=\"/dashboard\" role=\"search\">\
         <label>Status <select name=\"status\">{options}</select></label>\
         <label>Email <input type=\"search\" name=\"email\" value=\"{}\" placeholder=\"search email\"></label>\
         {failed_at}<button type=\"submit\">Filter</button> <a href=\"/dashboard\">Clear</a></form>",
        esc(filter.email.as_deref().unwrap_or(""))
    )
}

/// The workflow table (or its empty state).
pub fn workflow_table(page: &Page<WorkflowSummary>, filter: &WorkflowFilter) -> String {
    if page.items.is_empty() {
        return if filter.status.is_some() || filter.email.is_some() || filter.failed_at.is_some() {
            "<p class=\"empty\">No workflows match this filter.</p>".to_owned()
        } else {
            "<p class=\"empty\">No leads yet — run <code>formlead simulate --count 20</code> (or point a HubSpot form webhook at <code>/api/webhooks/hubspot/forms</code>).</p>".to_owned()
        };
    }
    let mut rows = String::new();
    for w in &page.items {
        let retry = if w.status == WorkflowStatus::Failed {
            format!(
                " <button type=\"button\" data-action=\"retry\" data-id=\"{}\">Retry</button>",
                w.id
            )
        } else {
            String::new()
        };
        let took = match (w.completed_at, w.created_at) {
            (Some(done), created) => ms((done - created).num_milliseconds()),
            _ => "—".to_owned(),
        };
        let _ = write!(
            rows,
            "<tr class=\"{}\"><td>{}</td><td><a href=\"/dashboard/workflows/{id}\">{}</a></td><td>{}</td><td>{}</td><td class=\"took\">{took}</td><td><a href=\"/dashboard/workflows/{id}\" aria-label=\"Open workflow for {}\">Open</a>{retry}</td></tr>",
            status_class(w.status),
            badge(w.status),
            esc(&w.prospect_email),
            time(Some(w.created_at)),
            time(w.started_at),
            esc(&w.prospect_email),
            id = w.id,
        );
    }
    format!(
        "<div class=\"scroll\"><table class=\"workflows\"><caption>Workflows, newest first ({} of {})</caption>\
         <thead><tr><th scope=\"col\">Status</th><th scope=\"col\">Prospect</th><th scope=\"col\">Received</th><th scope=\"col\">Started</th><th scope=\"col\">Took</th><th scope=\"col\">Actions</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>",
        page.items.len(),
        page.total
    )
}

pub(super) fn draft_actions(d: &DraftEmail) -> String {
    if d.status != DraftStatus::PendingApproval {
        return String::new();
    }
    format!(
        "<div class=\"actions\"><button type=\"button\" data-action=\"approve\" data-id=\"{id}\">Approve</button>\
         <form class=\"reject\" data-action=\"reject\" data-id=\"{id}\"><label>Reason <input name=\"reason\" maxlength=\"1000\" placeholder=\"optional\"></label> <button type=\"submit\">Reject</button></form></div>",
        id = d.id
    )
}

/// Leads going cold: drafts that have waited for approval longer than
/// `after`, oldest first, at the top of the page.
pub fn cold_banner(cold: &[DraftEmail], now: DateTime<Utc>, after: std::time::Duration) -> String {
    if cold.is_empty() {
        return String::new();
    }
    let mut items = String::new();
    for d in cold {
        let _ = write!(
            items,
            "<li><a href=\"/dashboard/workflows/{}\">{}</a> <span class=\"muted\">to {}</span> <strong>waiting {} min</strong> {}</li>",
            d.workflow_id,
            esc(&d.subject),
            esc(&d.to_email),
            (now - d.created_at).num_minutes(),
            draft_actions(d)
        );
    }
    format!(
        "<section class=\"cold\" aria-labelledby=\"cold\"><h2 id=\"cold\">Going cold: {} draft(s) waiting over {} min for approval</h2><ul>{items}</ul></section>",
        cold.len(),
        after.as_secs() / 60
    )
}

/// Drafts waiting for an operator.
pub fn approval_queue(drafts: &Page<DraftEmail>) -> String {
    if drafts.items.is_empty() {
        return "<section class=\"queue\" aria-labelledby=\"q\"><h2 id=\"q\">Approval queue</h2><p class=\"empty\">Nothing waits for approval.</p></section>".to_owned();
    }
    let mut items = String::new();
    for d in &drafts.items {
        let _ = write!(
            items,
            "<li><a href=\"/dashboard/workflows/{}\">{}</a> <span class=\"muted\">to {}</span> {}</li>",
            d.workflow_id,
            esc(&d.subject),
            esc(&d.to_email),
            draft_actions(d)
        );
    }
    format!(
        "<section class=\"queue\" aria-labelledby=\"q\"><h2 id=\"q\">Approval queue ({})</h2><ul>{items}</ul></section>",
        drafts.total
    )
}

/// The auto-refreshed part of the main page.
pub fn live(
    stats: &WorkflowStats,
    page: &Page<WorkflowSummary>,
    filter: &WorkflowFilter,
    drafts: &Page<DraftEmail>,
    budgets: &[BudgetUse],
) -> String {
    format!(
        "{}{}<div class=\"cols\"><section class=\"list\" aria-label=\"Workflows\">{}</section><aside>{}{}</aside></div>",
        tiles(stats),
        budget_tile(budgets),
        workflow_table(page, filter),
        approval_queue(drafts),
        failures::failures_by_step(&stats.failures_by_step)
    )
}

/// The main page body.
pub fn index(
    live_html: &str,
    filter: &WorkflowFilter,
    voice: &VoiceProfile,
    chart_svg: &str,
) -> String {
    format!(
        "<h1>Leads</h1>{}<p class=\"muted\" id=\"updated\" aria-live=\"polite\">Refreshes every 10 s.</p><div id=\"live\" tabindex=\"-1\">{live_html}</div>{chart_svg}{}",
        filters(filter),
        voice_profile(voice)
    )
}

/// The voice profile replies are written in (`VOICE_PROFILE`, or one
/// made by `formlead voice learn`).
pub fn voice_profile(v: &VoiceProfile) -> String {
    let tone = match v.tone {
        Tone::Friendly => "friendly",
        Tone::Formal => "formal",
        Tone::Concise => "concise",
    };
    format!(
        "<details class=\"voice\"><summary>Voice profile: {tone}, “{}” … “{}”, at most {} words</summary>\
         <dl class=\"facts\"><dt>Tone</dt><dd>{tone}</dd><dt>Greeting</dt><dd>{}</dd><dt>Sign-off</dt><dd>{}</dd>\
         <dt>Signature</dt><dd><pre>{}</pre></dd><dt>Company</dt><dd>{}</dd><dt>Max words</dt><dd>{}</dd>\
         <dt>Avoided phrases</dt><dd>{}</dd><dt>Example sentences</dt><dd>{}</dd></dl>\
         <p class=\"muted\">Learn it from your sent mail: <code>formlead voice learn --out voice.toml</code>, then set <code>VOICE_PROFILE</code>.</p></details>",
        esc(&v.greeting),
        esc(&v.sign_off),
        v.max_words,
        esc(&v.greeting),
        esc(&v.sign_off),
        esc(&v.signature),
        esc(&v.company_name),
        v.max_words,
        if v.avoid_phrases.is_empty() {
            "none".to_owned()
        } else {
            esc(&v.avoid_phrases.join(", "))
        },
        if v.examples.is_empty() {
            "none (only an LLM writer uses them)".to_owned()
        } else {
            format!(
                "<ul>{}</ul>",
                v.examples
                    .iter()
                    .map(|e| format!("<li>{}</li>", esc(e)))
                    .collect::<String>()
            )
        }
    )
}

/// The login form.
pub fn login(error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    format!(
        "<h1>Sign in</h1>{err}<form method=\"post\" action=\"/dashboard/login\" class=\"login\">\
         <label>Your name <input name=\"name\" autocomplete=\"username\" required maxlength=\"64\"></label>\
         <label>Operator token <input name=\"token\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_tile_says_idle_or_how_long_a_call_waits() {
        assert!(budget_tile(&[]).contains("sandbox"));
        let html = budget_tile(&[
            BudgetUse {
                label: "HubSpot".into(),
                backlog: std::time::Duration::ZERO,
                rate_per_sec: 9.0,
            },
            BudgetUse {
                label: "Gmail".into(),
                backlog: std::time::Duration::from_millis(2_340),
                rate_per_sec: 225.0,
            },
        ]);
        assert!(html.contains("<strong>HubSpot</strong> idle"), "{html}");
        assert!(html.contains("(9.0 /s)"), "{html}");
        assert!(html.contains("a new call waits 2.3 s"), "{html}");
        assert!(html.contains("(225 /s)"), "{html}");
    }

    #[test]
    fn the_failed_tile_offers_retry_all_only_when_something_failed() {
        let mut stats = WorkflowStats {
            created_since: 3,
            by_status: vec![(WorkflowStatus::Completed, 3)],
            drafts_pending: 0,
            draft_latencies_ms: vec![],
            failures_by_step: vec![],
        };
        assert!(!tiles(&stats).contains("retry-failed"));
        stats.by_status.push((WorkflowStatus::Failed, 2));
        assert!(tiles(&stats).contains("data-action=\"retry-failed\""));
    }

    #[test]
    fn the_voice_profile_lists_its_example_sentences_escaped() {
        let none = voice_profile(&VoiceProfile::default());
        assert!(
            none.contains("<dt>Example sentences</dt><dd>none"),
            "{none}"
        );
        let html = voice_profile(&VoiceProfile {
            examples: vec!["Happy to help <b>today</b>.".into()],
            ..VoiceProfile::default()
        });
        assert!(
            html.contains("<ul><li>Happy to help &lt;b&gt;today&lt;/b&gt;.</li></ul>"),
            "{html}"
        );
    }

    #[test]
    fn percentiles_and_durations() {
        assert_eq!(percentile(&[5, 1, 3], 0.5), Some(3));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(ms(250), "250 ms");
        assert_eq!(ms(2_500), "2.5 s");
        assert_eq!(ms(180_000), "3.0 min");
    }

    #[test]
    fn the_empty_state_says_what_to_do() {
        let page = Page {
            items: vec![],
            total: 0,
        };
        assert!(workflow_table(&page, &WorkflowFilter::default()).contains("formlead simulate"));
    }
}
