-- Restaurants with their menu, photo coverage and order performance.
with menu as (
    select m.restaurant_id, count(*) as menu_items, count(p.item_id) as items_with_photo,
           round(avg(m.price_cents)) as avg_price_cents
    from {{ ref('stg_orders__menu_items') }} m
    left join {{ ref('stg_photos__menu_photos') }} p on p.item_id = m.item_id
    group by m.restaurant_id
),
perf as (
    select restaurant_id, count(*) as orders, sum(gmv_cents) as gmv_cents,
           sum(case when status = 'cancelled' then 1 else 0 end) as cancelled_orders,
           round(median(prep_minutes), 2) as median_prep_minutes
    from {{ ref('fct_orders') }}
    group by restaurant_id
)
select
    r.restaurant_id,
    r.restaurant_name,
    r.city,
    r.cuisine,
    r.opened_at,
    coalesce(m.menu_items, 0) as menu_items,
    coalesce(m.items_with_photo, 0) as items_with_photo,
    m.avg_price_cents,
    coalesce(p.orders, 0) as orders,
    coalesce(p.gmv_cents, 0) as gmv_cents,
    coalesce(p.cancelled_orders, 0) as cancelled_orders,
    p.median_prep_minutes
from {{ ref('stg_orders__restaurants') }} r
left join menu m on m.restaurant_id = r.restaurant_id
left join perf p on p.restaurant_id = r.restaurant_id
