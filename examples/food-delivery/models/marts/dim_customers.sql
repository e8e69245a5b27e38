-- Customers with their order history and support contacts.
with orders as (
    select customer_id, count(*) as orders, sum(gmv_cents) as lifetime_gmv_cents,
           min(placed_at) as first_order_at, max(placed_at) as last_order_at
    from {{ ref('fct_orders') }}
    group by customer_id
),
tickets as (
    select customer_id, count(*) as tickets
    from {{ ref('stg_support__tickets') }}
    group by customer_id
)
select
    c.customer_id,
    c.email,
    c.city,
    c.signed_up_at,
    coalesce(o.orders, 0) as orders,
    coalesce(o.lifetime_gmv_cents, 0) as lifetime_gmv_cents,
    o.first_order_at,
    o.last_order_at,
    coalesce(t.tickets, 0) as support_tickets
from {{ ref('stg_orders__customers') }} c
left join orders o on o.customer_id = c.customer_id
left join tickets t on t.customer_id = c.customer_id
