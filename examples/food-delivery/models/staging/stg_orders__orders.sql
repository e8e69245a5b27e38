-- Orders, one row per order_id: the latest state landed (increments re-land changed rows).
select order_id, customer_id, restaurant_id, city, placed_at, promised_at, status, subtotal_cents, discount_cents, delivery_fee_cents, total_cents, promo_code, ga_session_id, updated_at
from (
    select *, row_number() over (partition by order_id order by updated_at desc) as version_rank
    from {{ source('orders', 'orders') }}
    where order_id is not null
)
where version_rank = 1
