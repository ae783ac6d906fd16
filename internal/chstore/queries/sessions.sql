{{/*
sessions: one row per session of the product, with the summary fields of
the contract, filtered by .Where. Every read of events uses FINAL, so an
event_id stored twice counts once. Times are Unix milliseconds.
*/}}
{{define "sessions"}}
SELECT
    session_id,
    session_user,
    started_ms,
    last_ms,
    last_ms - started_ms AS duration_ms,
    ({{.NowMS}} - last_ms) > {{.TimeoutMS}} AS timed_out,
    toBool(has_end OR timed_out) AS ended,
    multiIf(has_end, end_ms, timed_out, last_ms, NULL) AS ended_ms,
    conversation_depth,
    llm_calls,
    tool_calls,
    unpriced_llm_calls,
    llm_cost_usd,
    tool_cost_usd,
    llm_cost_usd + tool_cost_usd AS total_cost_usd,
    revenue_usd,
    revenue_usd - total_cost_usd AS margin_usd,
    cache_savings_usd,
    outcomes,
    converted,
    if(explicit_topic != '', explicit_topic, if(classified != '', classified, 'unclassified')) AS session_topic,
    {{.StageIndex}} AS stage_index,
    payments
FROM
(
    SELECT
        session_id,
        argMin(user_id, (timestamp, event_id)) AS session_user,
        toUnixTimestamp64Milli(min(timestamp)) AS started_ms,
        toUnixTimestamp64Milli(max(timestamp)) AS last_ms,
        countIf(event_type = 'session.end') > 0 AS has_end,
        toUnixTimestamp64Milli(maxIf(timestamp, event_type = 'session.end')) AS end_ms,
        toInt64(countIf(event_type = 'message.user')) AS conversation_depth,
        toInt64(countIf(event_type = 'action.llm_call')) AS llm_calls,
        toInt64(countIf(event_type = 'action.tool_call')) AS tool_calls,
        toInt64(countIf(event_type = 'action.llm_call' AND cost_status = 'unpriced')) AS unpriced_llm_calls,
        sumIf(ifNull(cost_usd, 0), event_type = 'action.llm_call') AS llm_cost_usd,
        sumIf(ifNull(cost_usd, 0), event_type = 'action.tool_call') AS tool_cost_usd,
        sumIf(ifNull(amount_usd, 0), event_type = 'outcome.payment') AS revenue_usd,
        sumIf(saved_cost_usd, event_type = 'action.cache_hit') AS cache_savings_usd,
        CAST(arraySort(groupUniqArrayIf(outcome, outcome != '')) AS Array(String)) AS outcomes,
        toBool(countIf(event_type = 'outcome.payment' AND amount > 0) > 0
            OR countIf(event_type = 'session.end' AND end_reason = 'converted') > 0) AS converted,
        argMaxIf(metadata_topic, (timestamp, event_id), metadata_topic != '') AS explicit_topic,
        toString(argMaxIf(classified_topic, (timestamp, event_id), classified_topic != '')) AS classified,
        groupArrayIf((toString(currency), amount), event_type = 'outcome.payment') AS payments
        {{- .StageColumns}}
    FROM {{.DB}}.events FINAL
    WHERE product_id = {{.Product}}{{.EventWhere}}
    GROUP BY session_id
)
WHERE {{.Where}}
{{end}}

{{/* summary: the columns scanned into a session summary, in scan order. */}}
{{define "summary"}}
    session_id,
    session_user,
    started_ms,
    last_ms,
    duration_ms,
    ended_ms,
    ended,
    conversation_depth,
    llm_calls,
    tool_calls,
    unpriced_llm_calls,
    total_cost_usd,
    revenue_usd,
    margin_usd,
    cache_savings_usd,
    outcomes,
    converted,
    stage_index,
    session_topic
{{- end}}
