-- One row per order with its delivery stages in minutes: the source of "orders", "GMV" and
-- "delivery time" for every dashboard.
with orders as (
    select * from {{ ref('stg_orders__orders') }}
    {% if is_incremental() %}
    where cast(placed_at as date) = date '{{ logical_date }}'
    {% endif %}
),
deliveries as (
    select * from {{ ref('stg_logistics__deliveries') }}
),
items as (
    select order_id, sum(quantity) as item_count, count(*) as line_count
    from {{ ref('stg_orders__order_items') }}
    group by order_id
),
sessions as (
    select transaction_id, campaign, device_category
    from {{ ref('int_ga4__sessions') }}
    where transaction_id is not null
),
codes as (
    select code from {{ ref('stg_promotions__promo_codes') }}
),
restaurants as (
    select restaurant_id, restaurant_name from {{ ref('stg_orders__restaurants') }}
),
timed as (
    select
        o.*,
        d.delivery_id,
        d.courier_id,
        d.distance_m,
        d.accepted_at,
        d.ready_at,
        d.picked_up_at,
        d.delivered_at,
        d.cancelled_at,
        date_part('epoch', o.placed_at) as t_placed,
        date_part('epoch', d.accepted_at) as t_accepted,
        date_part('epoch', d.ready_at) as t_ready,
        date_part('epoch', d.picked_up_at) as t_picked_up,
        date_part('epoch', d.delivered_at) as t_delivered,
        date_part('epoch', o.promised_at) as t_promised,
        i.item_count,
        i.line_count,
        s.campaign as session_campaign,
        s.device_category,
        c.code as issued_code,
        r.restaurant_name
    from orders o
    left join deliveries d on d.order_id = o.order_id
    left join items i on i.order_id = o.order_id
    left join sessions s on s.transaction_id = cast(o.order_id as varchar)
    left join codes c on c.code = o.promo_code
    left join restaurants r on r.restaurant_id = o.restaurant_id
)
select
    order_id,
    cast(placed_at as date) as order_date,
    placed_at,
    date_part('hour', placed_at) as order_hour,
    customer_id,
    restaurant_id,
    restaurant_name,
    city,
    status,
    subtotal_cents,
    discount_cents,
    delivery_fee_cents,
    total_cents,
    case when status = 'delivered' then total_cents else 0 end as gmv_cents,
    promo_code,
    promo_code is not null and issued_code is null as unknown_promo_code,
    coalesce(session_campaign, '(untracked)') as campaign,
    device_category,
    item_count,
    line_count,
    delivery_id,
    courier_id,
    distance_m,
    promised_at,
    accepted_at,
    ready_at,
    picked_up_at,
    delivered_at,
    cancelled_at,
    round((t_accepted - t_placed) / 60.0, 2) as accept_minutes,
    round((t_ready - t_accepted) / 60.0, 2) as prep_minutes,
    -- A pickup stamped after the drop-off is a courier-app clock error: no ride time then.
    case when t_picked_up <= t_delivered then round((t_picked_up - t_ready) / 60.0, 2) end as wait_for_courier_minutes,
    case when t_picked_up <= t_delivered then round((t_delivered - t_picked_up) / 60.0, 2) end as ride_minutes,
    t_picked_up > t_delivered as pickup_after_dropoff,
    round((t_delivered - t_placed) / 60.0, 2) as end_to_end_minutes,
    round((t_delivered - t_promised) / 60.0, 2) as minutes_late,
    case
        when status = 'delivered'
        then t_delivered <= t_promised + {{ var('on_time_grace_minutes') }} * 60
    end as on_time
from timed
