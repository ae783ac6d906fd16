{{/*
refresh: brings the session_summaries table up to date with the events
written in [.FromMS, .ToMS). The sessions of every copy of those events (the
ones they are in now and the ones they left) are summarized again: first
each stored one gets a deleted row under its stored start time (rows are
keyed by start hour), then those that still have events get their summary
with a higher version, so a session whose events all moved away stays
deleted, and one whose start moved to another hour leaves no row behind.
*/}}
{{define "refresh_dirty"}}
    SELECT DISTINCT product_id, session_id FROM {{.DB}}.event_copies
    WHERE (product_id, event_id) IN (
        SELECT product_id, event_id FROM {{.DB}}.event_copies
        WHERE ingested_at >= fromUnixTimestamp64Milli({{.FromMS}}, 'UTC')
            AND ingested_at < fromUnixTimestamp64Milli({{.ToMS}}, 'UTC'))
{{- end}}

{{/* refresh_window_events: the events written in [.FromMS, .ToMS), to size
a window of the refresh. */}}
{{define "refresh_window_events"}}
SELECT toInt64(count()) FROM {{.DB}}.event_copies
WHERE ingested_at >= fromUnixTimestamp64Milli({{.FromMS}}, 'UTC')
    AND ingested_at < fromUnixTimestamp64Milli({{.ToMS}}, 'UTC')
{{- end}}

{{define "refresh_tombstones"}}
INSERT INTO {{.DB}}.session_summaries (product_id, session_id, started_ms, version, deleted)
SELECT product_id, session_id, started_ms, {{.Version}}, 1
FROM {{.DB}}.session_summaries FINAL
WHERE (product_id, session_id) IN ({{template "refresh_dirty" .}})
{{end}}

{{define "refresh_summaries"}}
INSERT INTO {{.DB}}.session_summaries (product_id, {{template "session_columns"}}, version, deleted)
SELECT product_id, {{template "session_columns"}}, {{.Version}} + 1, 0
FROM
(
    SELECT
        product_id,
        session_id,
        {{- template "summarize"}}
    FROM {{.DB}}.events FINAL
    WHERE (product_id, event_id) IN (
            SELECT product_id, event_id FROM {{.DB}}.event_copies
            WHERE (product_id, session_id) IN ({{template "refresh_dirty" .}}))
        AND (product_id, session_id) IN ({{template "refresh_dirty" .}})
    GROUP BY product_id, session_id
)
{{end}}

{{define "refresh_watermark"}}
INSERT INTO {{.DB}}.session_refresh (id, watermark_ms) VALUES (0, {{.ToMS}})
{{end}}
