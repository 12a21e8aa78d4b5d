{#- The ordered purchase funnel of visitors, one-day window (macros/ordered_funnel.sql). -#}
{{ ordered_funnel(ref('fct_events'), var('purchase_funnel_steps'), var('purchase_funnel_window_seconds')) }}
