-- One row per GA4 session (user_pseudo_id + ga_session_id) with the funnel steps it reached.
-- Late-arriving events still count: a session is built from every file that has landed.
select
    user_pseudo_id || '-' || cast(ga_session_id as varchar) as session_key,
    user_pseudo_id,
    ga_session_id,
    min(event_at) as started_at,
    cast(min(event_at) as date) as session_date,
    max(campaign) as campaign,
    coalesce(max(campaign_medium), 'direct') as channel,
    max(city) as city,
    max(device_category) as device_category,
    max(user_id) as user_id,
    max(case when event_name = 'session_start' then 1 else 0 end) as reached_session_start,
    max(case when event_name = 'page_view' then 1 else 0 end) as reached_page_view,
    max(case when event_name = 'view_item' then 1 else 0 end) as reached_view_item,
    max(case when event_name = 'add_to_cart' then 1 else 0 end) as reached_add_to_cart,
    max(case when event_name = 'begin_checkout' then 1 else 0 end) as reached_begin_checkout,
    max(case when event_name = 'purchase' then 1 else 0 end) as reached_purchase,
    max(transaction_id) as transaction_id,
    count(*) as events
from {{ ref('stg_ga4__events') }}
where ga_session_id is not null
group by user_pseudo_id, ga_session_id
