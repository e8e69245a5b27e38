-- Sessions per day, campaign, channel, city and device that reached each funnel step.
select
    session_date,
    campaign,
    channel,
    city,
    device_category,
    count(*) as sessions,
    sum(reached_session_start) as session_start_sessions,
    sum(reached_page_view) as page_view_sessions,
    sum(reached_view_item) as view_item_sessions,
    sum(reached_add_to_cart) as add_to_cart_sessions,
    sum(reached_begin_checkout) as begin_checkout_sessions,
    sum(reached_purchase) as purchase_sessions,
    round(cast(sum(reached_purchase) as double) / count(*), 4) as conversion_rate
from {{ ref('int_ga4__sessions') }}
group by session_date, campaign, channel, city, device_category
