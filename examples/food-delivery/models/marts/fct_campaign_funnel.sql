-- The funnel of each campaign over the whole period, with what it brought in and cost.
with funnel as (
    select
        campaign,
        count(*) as sessions,
        sum(reached_session_start) as session_start_sessions,
        sum(reached_page_view) as page_view_sessions,
        sum(reached_view_item) as view_item_sessions,
        sum(reached_add_to_cart) as add_to_cart_sessions,
        sum(reached_begin_checkout) as begin_checkout_sessions,
        sum(reached_purchase) as purchase_sessions
    from {{ ref('int_ga4__sessions') }}
    group by campaign
),
revenue as (
    select campaign, count(*) as orders, sum(gmv_cents) as gmv_cents, sum(discount_cents) as discount_cents
    from {{ ref('fct_orders') }}
    group by campaign
)
select
    f.campaign,
    c.campaign_name,
    c.campaign_source,
    c.campaign_medium,
    f.sessions,
    f.session_start_sessions,
    f.page_view_sessions,
    f.view_item_sessions,
    f.add_to_cart_sessions,
    f.begin_checkout_sessions,
    f.purchase_sessions,
    round(cast(f.purchase_sessions as double) / f.sessions, 4) as conversion_rate,
    coalesce(r.orders, 0) as orders,
    coalesce(r.gmv_cents, 0) as gmv_cents,
    coalesce(r.discount_cents, 0) as discount_cents,
    c.budget_cents
from funnel f
left join {{ ref('stg_promotions__campaigns') }} c on c.utm_campaign = f.campaign
left join revenue r on r.campaign = f.campaign
