//! `GET /account`: the token's account, its plan, period and quota.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::problem::{ApiResult, Problem};
use super::responses::Reads;
use crate::state::AppState;

/// The account, its plan and this period's quota.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    /// The account's id.
    id: i64,
    /// Its email.
    email: String,
    /// `customer` or `admin`.
    role: String,
    /// The IANA time zone of its dashboard (and of `/usage` by default).
    time_zone: String,
    /// The live plan, if any.
    plan: Option<PlanView>,
    /// The live plan's current period, if any.
    period: Option<PeriodView>,
    /// This period's bandwidth, if there is a plan.
    quota: Option<QuotaView>,
}

/// A plan's limits.
#[derive(Serialize, ToSchema)]
pub struct PlanView {
    /// Its name.
    name: String,
    /// Requests a second through the gateway.
    requests_per_second: i64,
    /// Concurrent connections.
    max_connections: i64,
    /// Bytes per period; `null` for unlimited.
    bandwidth_bytes: Option<i64>,
}

/// A billing period.
#[derive(Serialize, ToSchema)]
pub struct PeriodView {
    /// Start, epoch milliseconds.
    start_ms: i64,
    /// End, epoch milliseconds.
    end_ms: i64,
}

/// Bandwidth used and left this period.
#[derive(Serialize, ToSchema)]
pub struct QuotaView {
    /// Bytes used (as flushed by the gateways, about once a second).
    used_bytes: i64,
    /// The plan's bandwidth; `null` for unlimited.
    limit_bytes: Option<i64>,
    /// What is left; `null` for unlimited.
    left_bytes: Option<i64>,
}

/// The token's account.
#[utoipa::path(
    get, path = "/account", tag = "account", security(("token" = [])),
    responses(
        (status = 200, description = "The account", body = AccountView),
        Reads,
    )
)]
pub async fn account(State(state): State<AppState>, caller: ApiCaller) -> ApiResult<AccountView> {
    let account = &caller.account;
    let period = app::api::usage::ssr::period_use(&state.db, account.id, store::now_ms())
        .await
        .map_err(|e| Problem::store(&e))?;
    let (plan, period, quota) = match period {
        Some(p) => {
            let limit = p.plan.as_ref().and_then(|plan| plan.bandwidth_bytes);
            (
                p.plan.map(|plan| PlanView {
                    name: plan.name,
                    requests_per_second: plan.requests_per_second,
                    max_connections: plan.max_connections,
                    bandwidth_bytes: plan.bandwidth_bytes,
                }),
                Some(PeriodView {
                    start_ms: p.subscription.period_start,
                    end_ms: p.subscription.period_end,
                }),
                Some(QuotaView {
                    used_bytes: p.used_bytes,
                    limit_bytes: limit,
                    left_bytes: limit.map(|l| (l - p.used_bytes).max(0)),
                }),
            )
        }
        None => (None, None, None),
    };
    Ok(Json(AccountView {
        id: account.id.get(),
        email: account.email.clone(),
        role: account.role.as_str().to_owned(),
        time_zone: account.time_zone.clone(),
        plan,
        period,
        quota,
    }))
}
