-- Support tickets with response and resolution times and whether the order was late.
select
    t.ticket_id,
    t.order_id,
    t.customer_id,
    cast(t.created_at as date) as ticket_date,
    t.created_at,
    t.category,
    t.channel,
    t.priority,
    t.satisfaction_score,
    round((date_part('epoch', t.first_response_at) - date_part('epoch', t.created_at)) / 60.0, 2) as first_response_minutes,
    round((date_part('epoch', t.solved_at) - date_part('epoch', t.created_at)) / 60.0, 2) as resolution_minutes,
    t.solved_at is null as open,
    o.city,
    o.restaurant_name,
    o.status as order_status,
    o.on_time as order_on_time,
    o.minutes_late as order_minutes_late
from {{ ref('stg_support__tickets') }} t
left join {{ ref('fct_orders') }} o on o.order_id = t.order_id
