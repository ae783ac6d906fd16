{{/*
sessions: one row per session of the product, with the summary fields of
the contract, filtered by .Where. Sessions with no event written since the
last refresh come from the session_summaries table; with .Live, the others
("dirty": a copy of one of their events, past or present, was written
since) are summarized here from events, whose rows of a session are found
by their ids in event_copies. Every read of events uses FINAL, so an
event_id stored twice counts once, in the session of its last copy. Times
are Unix milliseconds. Without .Live the table is read in one SELECT,
which the engine plans in about half the time of the nested form.
*/}}
{{define "sessions"}}
{{- if .Live}}
SELECT
    {{- template "session_fields" .}}
FROM
(
    SELECT {{template "session_columns"}}
    FROM {{.DB}}.session_summaries FINAL
    WHERE product_id = {{.Product}}{{.SessionWhere}}
        AND session_id NOT IN ({{template "dirty" .}})
    UNION ALL
    SELECT {{template "session_columns"}}
    FROM
    (
        SELECT
            session_id,
            {{- template "summarize"}}
        FROM {{.DB}}.events FINAL
        WHERE product_id = {{.Product}}
            AND event_id IN (
                SELECT event_id FROM {{.DB}}.event_copies
                WHERE product_id = {{.Product}}{{.CopyWhere}} AND session_id IN ({{template "dirty" .}}))
            AND session_id IN ({{template "dirty" .}}){{.EventWhere}}
        GROUP BY session_id
    )
)
WHERE {{.Where}}
{{- else}}
SELECT
    {{- template "session_fields" .}}
FROM {{.DB}}.session_summaries FINAL
WHERE product_id = {{.Product}}{{.SessionWhere}} AND ({{.Where}})
{{- end}}
{{end}}

{{/* session_fields: the summary fields computed from the stored columns (session_columns). */}}
{{define "session_fields"}}
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
    payment_currencies,
    payment_amounts,
    metadata_keys,
    metadata_values
{{- end}}

{{/* dirty: the sessions of every copy of every event written since the watermark. */}}
{{define "dirty"}}
{{- if .SessionID}}
        {{- /* One session (the detail): it is dirty when a copy of one of
        its events, past or present, was written since the refresh. Its
        events are found by the session (event_copies' projection), then
        their copies by id, so the cost does not grow with the number of
        events written since the refresh, as the full set's does. */}}
        SELECT DISTINCT {{.SessionID}} FROM {{.DB}}.event_copies
        WHERE product_id = {{.Product}} AND event_id IN (
            SELECT event_id FROM {{.DB}}.event_copies
            WHERE product_id = {{.Product}} AND session_id = {{.SessionID}})
            AND ingested_at >= (SELECT fromUnixTimestamp64Milli(max(watermark_ms), 'UTC') FROM {{.DB}}.session_refresh)
{{- else}}
        SELECT session_id FROM {{.DB}}.event_copies
        WHERE product_id = {{.Product}} AND event_id IN (
            SELECT event_id FROM {{.DB}}.event_copies
            WHERE product_id = {{.Product}}
                AND ingested_at >= (SELECT fromUnixTimestamp64Milli(max(watermark_ms), 'UTC') FROM {{.DB}}.session_refresh))
{{- end}}
{{- end}}

{{/* session_columns: what the session_summaries table stores, in its order. */}}
{{define "session_columns"}}
        session_id, session_user, started_ms, last_ms, has_end, end_ms, conversation_depth, llm_calls,
        tool_calls, unpriced_llm_calls, llm_cost_usd, tool_cost_usd, revenue_usd, cache_savings_usd,
        outcomes, converted, explicit_topic, classified, payment_currencies, payment_amounts,
        event_types, metadata_keys, metadata_values
{{- end}}

{{/* summarize: the stored summary of a session from its events (grouped by session). */}}
{{define "summarize"}}
            argMin(user_id, (timestamp, event_id)) AS session_user,
            toUnixTimestamp64Milli(min(timestamp)) AS started_ms,
            toUnixTimestamp64Milli(max(timestamp)) AS last_ms,
            toBool(countIf(event_type = 'session.end') > 0) AS has_end,
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
            CAST(groupArrayIf(currency, event_type = 'outcome.payment') AS Array(String)) AS payment_currencies,
            groupArrayIf(amount, event_type = 'outcome.payment') AS payment_amounts,
            CAST(arraySort(groupUniqArray(event_type)) AS Array(String)) AS event_types,
            arrayFold((acc, m) -> mapUpdate(acc, m.3),
                arraySort(m -> (m.1, m.2), groupArrayIf(
                    (timestamp, event_id, CAST(JSONExtractKeysAndValuesRaw(metadata), 'Map(String, String)')),
                    metadata != '{}')),
                CAST(map(), 'Map(String, String)')) AS merged_metadata,
            mapKeys(merged_metadata) AS metadata_keys,
            mapValues(merged_metadata) AS metadata_values
{{- end}}

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
    session_topic,
    metadata_keys,
    metadata_values
{{- end}}
