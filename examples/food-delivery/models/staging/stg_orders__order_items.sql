-- Order lines, one row per order_item_id.
select order_item_id, order_id, item_id, quantity, unit_price_cents, quantity * unit_price_cents as line_cents, updated_at
from (
    select *, row_number() over (partition by order_item_id order by updated_at desc) as version_rank
    from {{ source('orders', 'order_items') }}
    where order_item_id is not null
)
where version_rank = 1
