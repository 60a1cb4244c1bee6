//! Operator API (contract §3): workflows, drafts, approve, reject, retry.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use formlead_core::domain::{DraftId, DraftStatus, StepName, WorkflowId, WorkflowStatus};
use formlead_core::ports::{FailedAt, WorkflowFilter};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::Operator;
use super::errors::ApiError;

/// Query string of the list routes (all optional, all validated).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub email: Option<String>,
    /// Workflows with a failed attempt at this step today (UTC).
    pub failed_step: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
}

pub const MAX_LIMIT: u32 = WorkflowFilter::MAX_LIMIT;

/// `limit` (1..=500, default 50) and `offset` (≥ 0, default 0).
pub fn page(q: &ListQuery) -> Result<(u32, u32), ApiError> {
    let limit = match q.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => WorkflowFilter::DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                    Some("limit"),
                )
            })?,
    };
    let offset = match q.offset.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 0,
        Some(raw) => raw.parse::<u32>().map_err(|_| {
            ApiError::bad_request("offset must be a whole number ≥ 0", Some("offset"))
        })?,
    };
    Ok((limit, offset))
}

pub fn workflow_filter(q: &ListQuery) -> Result<WorkflowFilter, ApiError> {
    let (limit, offset) = page(q)?;
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(WorkflowStatus::parse(raw).map_err(|_| {
            let known: Vec<&str> = WorkflowStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(
                format!("unknown status \"{raw}\" (one of {})", known.join(", ")),
                Some("status"),
            )
        })?),
    };
    let email = q
        .email
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    // Nothing stored holds a NUL (PostgreSQL cannot even compare with one).
    if email.as_deref().is_some_and(|e| e.contains('\0')) {
        return Err(ApiError::bad_request(
            "email must not contain a NUL character",
            Some("email"),
        ));
    }
    let failed_at = match q
        .failed_step
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(raw) => Some(FailedAt {
            step: StepName::parse(raw).map_err(|_| {
                let known: Vec<&str> = StepName::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::bad_request(
                    format!("unknown step \"{raw}\" (one of {})", known.join(", ")),
                    Some("failed_step"),
                )
            })?,
            since: midnight_utc(Utc::now()),
        }),
    };
    Ok(WorkflowFilter {
        status,
        email,
        limit,
        offset,
        failed_at,
    })
}

/// The start of `now`'s day in UTC: what "today" means on the dashboard.
pub fn midnight_utc(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |t| t.and_utc())
}

pub fn workflow_id(raw: &str) -> Result<WorkflowId, ApiError> {
    WorkflowId::parse(raw).map_err(|_| {
        ApiError::bad_request(
            format!("\"{raw}\" is not a workflow id (a UUID)"),
            Some("id"),
        )
    })
}

pub fn draft_id(raw: &str) -> Result<DraftId, ApiError> {
    DraftId::parse(raw).map_err(|_| {
        ApiError::bad_request(format!("\"{raw}\" is not a draft id (a UUID)"), Some("id"))
    })
}

pub async fn list_workflows(
    State(state): State<AppState>,
    _op: Operator,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = workflow_filter(&q)?;
    let page = state.engine.ports().store.list_workflows(&filter).await?;
    let rows: Vec<_> = page
        .items
        .iter()
        .map(|w| {
            json!({
                "id": w.id, "status": w.status, "prospect_email": w.prospect_email,
                "created_at": w.created_at, "started_at": w.started_at, "completed_at": w.completed_at,
            })
        })
        .collect();
    Ok(Json(json!({"workflows": rows, "total": page.total, "limit": filter.limit, "offset": filter.offset})).into_response())
}

pub async fn workflow_detail(
    State(state): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = workflow_id(&id)?;
    let detail = state
        .engine
        .workflow_detail(id)
        .await?
        .ok_or_else(|| ApiError::not_found("workflow"))?;
    let steps: Vec<_> = detail
        .steps
        .iter()
        .map(|s| {
            json!({
                "number": s.step.number(), "step": s.step, "status": s.status, "attempt": s.attempt,
                "started_at": s.started_at, "finished_at": s.finished_at, "duration_ms": s.duration_ms(),
                "summary": s.summary, "error": s.error,
            })
        })
        .collect();
    let submission = detail.submission.as_ref().map(|s| {
        json!({
            "id": s.id, "form_submission_id": s.form_submission_id, "portal_id": s.portal_id, "form_id": s.form_id,
            "submitted_at": s.submitted_at, "page_url": s.page_url, "fields": s.fields, "source": s.source,
            "received_at": s.received_at, "raw_payload": s.raw_payload,
        })
    });
    Ok(Json(json!({
        "workflow": detail.workflow,
        "submission": submission,
        "steps": steps,
        "drafts": detail.drafts,
        "tasks": detail.tasks,
        "errors": detail.errors,
        "audit_events": detail.audit,
        "linked_submissions": detail.linked_submissions.iter().map(|l| json!({
            "submission_id": l.submission.id,
            "form_submission_id": l.submission.form_submission_id,
            "form_id": l.submission.form_id,
            "message": l.submission.field("message"),
            "received_at": l.submission.received_at,
            "linked_at": l.linked_at,
            "applied_at": l.applied_at,
            "note_id": l.note_id,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

pub async fn list_drafts(
    State(state): State<AppState>,
    _op: Operator,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page(&q)?;
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(DraftStatus::parse(raw).map_err(|_| {
            let known: Vec<&str> = DraftStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(
                format!(
                    "unknown draft status \"{raw}\" (one of {})",
                    known.join(", ")
                ),
                Some("status"),
            )
        })?),
    };
    let page = state
        .engine
        .ports()
        .store
        .list_drafts(status, limit, offset)
        .await?;
    Ok(
        Json(json!({"drafts": page.items, "total": page.total, "limit": limit, "offset": offset}))
            .into_response(),
    )
}

pub async fn approve(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = draft_id(&id)?;
    let draft = state.engine.approve_draft(id, &op.name).await?;
    Ok(Json(json!({"draft": draft})).into_response())
}

/// Body of a reject: `{"reason": "…"}` (optional).
#[derive(Debug, Default, Deserialize)]
pub struct RejectBody {
    #[serde(default)]
    pub reason: Option<String>,
}

pub async fn reject(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let id = draft_id(&id)?;
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<RejectBody>(&body)
            .map_err(|e| {
                ApiError::bad_request(
                    format!("body must be JSON like {{\"reason\": \"…\"}}: {e}"),
                    Some("reason"),
                )
            })?
            .reason
            .unwrap_or_default()
    };
    let draft = state.engine.reject_draft(id, &op.name, &reason).await?;
    Ok(Json(json!({"draft": draft})).into_response())
}

/// `POST /api/dashboard/workflows/retry-failed`: re-queues every failed
/// workflow; 202 with how many.
pub async fn retry_failed(
    State(state): State<AppState>,
    op: Operator,
) -> Result<Response, ApiError> {
    let retried = state.engine.retry_failed(&op.name).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "requeued", "retried": retried})),
    )
        .into_response())
}

pub async fn retry(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = workflow_id(&id)?;
    let workflow = state.engine.retry_workflow(id, &op.name).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "requeued", "workflow": workflow})),
    )
        .into_response())
}
